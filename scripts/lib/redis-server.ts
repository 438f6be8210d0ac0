import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { caText, type TestCertificates } from './tls.js';

/** A private redis-server for one test file: never the shared one on 6379. */
export interface TestRedis {
  url: string;
  port: number;
  /** A plain client for assertions; closed by stop(). */
  client: Redis;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers, as with a half-open TCP connection. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** Starts it again on the same port and data folder (data survives when appendonly is on). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestRedisOptions {
  /** Persist every write before answering (appendfsync always), so a kill -9 loses nothing. @default false */
  appendonly?: boolean;
  /** Listen on this port instead of a free one (e.g. one a service was already told to use). */
  port?: number;
  /** More redis-server arguments, e.g. ['--maxmemory-policy', 'allkeys-lru']. @default [] */
  args?: string[];
  /** Serve TLS only, with these certificates (tls.ts); the url is then `rediss://`. @default none */
  tls?: TestCertificates;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForExit(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

/**
 * The unit tier (test/tiers.ts) promises seconds and no Redis; a unit test that reaches for one
 * belongs in another tier, and this says so instead of letting the tier slow down unnoticed.
 */
export function refuseInUnitTier(what: string): void {
  if (process.env.EP_TEST_TIER === 'unit') {
    throw new Error(`${what} in the unit tier: move this test file out of TIERS.unit in test/tiers.ts`);
  }
}

export async function startRedisServer(options: TestRedisOptions = {}): Promise<TestRedis> {
  refuseInUnitTier('a redis-server');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'ep-redis-'));
  const tls = options.tls;
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key,
       '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  // What the probe and the assertion client need to reach it.
  const reach: RedisOptions = { port, host: '127.0.0.1', ...(tls ? { tls: { ca: caText(tls) } } : {}) };
  const args = [
    ...listen, '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'always',
    '--loglevel', 'warning', '--daemonize', 'no', ...(options.args ?? []),
  ];
  let child: ChildProcess;

  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      const probe = new Redis({ ...reach, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
        await new Promise((r) => setTimeout(r, 25));
      } finally {
        probe.disconnect();
      }
    }
  };
  await launch();
  const client = new Redis({ ...reach, maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 50, 500) });
  client.on('error', () => {});

  return {
    url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    client,
    async kill() {
      child.kill('SIGKILL');
      await waitForExit(child);
    },
    freeze() {
      child.kill('SIGSTOP');
    },
    thaw() {
      child.kill('SIGCONT');
    },
    async restart() {
      await launch();
    },
    async stop() {
      client.disconnect();
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await waitForExit(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, stepMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
