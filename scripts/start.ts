/**
 * `npm start`: the whole pipeline on this machine. It touches only what it owns: unless told to
 * use a Redis (REDIS_URL, REDIS_HOST or REDIS_CLUSTER_NODES), it starts a private redis-server on a
 * free port with its data in .data/redis (appendonly, fsync always, so nothing accepted is lost
 * across restarts), even when something answers on :6379, and stops it on exit. Ctrl-C stops
 * everything. Logs are pino-pretty lines on a terminal, JSON otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { ConfigError, parseEnv, port } from '@energy-pipeline/server-kit';
import { ensureDashboard } from './dashboard.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (line: string) => console.log(`[start] ${line}`);

let env: { REDIS_URL?: string | undefined; INGEST_PORT: number; PROCESS_PORT: number; REDIS_DATA_DIR: string; HOST?: string | undefined };
try {
  env = parseEnv(
    {
      /** A Redis to use instead of a private one (the services also take REDIS_HOST/REDIS_PORT). */
      REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
      INGEST_PORT: port(8000),
      PROCESS_PORT: port(8001),
      /** Where a private redis-server keeps its append-only file. */
      REDIS_DATA_DIR: z.string().default(`${root}.data/redis`),
      /** Where both services listen; unset: 127.0.0.1 with auth off, else the services' default (0.0.0.0). */
      HOST: z.string().optional(),
    },
    process.env,
  );
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const children: ChildProcess[] = [];
let redisServer: ChildProcess | null = null;
let stopping = false;

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: p } = server.address() as { port: number };
      server.close(() => resolve(p));
    });
  });
}

/** Whether `pid` is a live process (EPERM: alive, someone else's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Starts the private redis-server on a free port; returns its URL. */
async function startPrivateRedis(): Promise<string> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      'redis-server is not installed, and npm start runs a private one.\n' +
        '  Install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis),\n' +
        '  or point REDIS_URL at a Redis 7 or later to use that one, then run npm start again.',
    );
  }
  const dir = env.REDIS_DATA_DIR;
  mkdirSync(dir, { recursive: true });
  // Two redis-servers on one append-only file would corrupt it.
  const pidFile = `${dir}/redis.pid`;
  const owner = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  if (owner && alive(owner)) {
    throw new Error(`another private Redis (pid ${owner}) already runs on ${dir}: stop it, or set REDIS_DATA_DIR to another folder`);
  }
  const url = `redis://127.0.0.1:${await freePort()}`;
  say(`starting a private redis-server at ${url} (data in ${dir}; set REDIS_URL to use another Redis)`);
  redisServer = spawn(
    'redis-server',
    ['--port', new URL(url).port, '--bind', '127.0.0.1', '--dir', dir, '--pidfile', pidFile,
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  redisServer.on('exit', (code) => {
    if (!stopping) void shutdown(`redis-server exited (${code})`, 1);
  });
  for (let i = 0; i < 100; i++) {
    if (await answers(url)) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the private redis-server did not start within 10 s');
}

/** The Redis the environment names, if it names one: used as it is, never started or flushed. */
function namedRedis(): string | null {
  if (env.REDIS_URL) return env.REDIS_URL;
  if (process.env.REDIS_CLUSTER_NODES) return `the Redis Cluster at ${process.env.REDIS_CLUSTER_NODES}`;
  if (process.env.REDIS_HOST) return `redis://${process.env.REDIS_HOST}:${process.env.REDIS_PORT ?? 6379}`;
  return null;
}

// Local runs need no API key unless one is configured; the banner says so loudly. With auth off,
// both services listen on the loopback interface only, so that an open pipeline on a laptop is
// not open to its network too; HOST (e.g. 0.0.0.0) says otherwise.
const authOff = !process.env.API_KEYS && !process.env.API_KEYS_FILE;
const host = env.HOST ?? (authOff ? '127.0.0.1' : undefined);

function startService(name: 'ingest' | 'process', servicePort: number, redisUrl: string | null) {
  const extra = {
    ...(authOff ? { AUTH_DISABLED: 'true' } : {}),
    ...(host ? { HOST: host } : {}),
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    // Lines for a person at a terminal, JSON for anything reading our output.
    ...(process.stdout.isTTY && !process.env.LOG_FORMAT ? { LOG_FORMAT: 'pretty' } : {}),
    // Someone trying the API sees each of their requests; deployments log only failures.
    ...(!process.env.ACCESS_LOG ? { ACCESS_LOG: 'all' } : {}),
  };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@energy-pipeline/source', `${name}/src/main.ts`],
    { cwd: root, stdio: 'inherit', env: { ...process.env, ...extra, PORT: String(servicePort) } },
  );
  child.on('exit', (code, signal) => {
    if (!stopping) void shutdown(`${name} exited (${signal ?? code})`, 1);
  });
  children.push(child);
}

async function waitHealthy(url: string) {
  for (let i = 0; i < 300; i++) {
    if (stopping) return;
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become healthy within 30 s`);
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));

async function shutdown(reason: string, code: number) {
  if (stopping) return;
  stopping = true;
  say(`${reason}; stopping`);
  for (const child of children) child.kill('SIGTERM');
  await Promise.race([Promise.all(children.map(exited)), new Promise((r) => setTimeout(r, 15_000))]);
  if (redisServer) {
    redisServer.kill('SIGTERM');
    await exited(redisServer);
  }
  process.exit(code);
}

process.on('SIGINT', () => void shutdown('interrupted', 0));
process.on('SIGTERM', () => void shutdown('terminated', 0));

try {
  if (authOff) say(`auth is OFF (AUTH_DISABLED=true): no API key is needed; listening on ${host} only`);
  const named = namedRedis();
  let redisUrl: string | null = null;
  if (named) {
    say(`using ${named}, as REDIS_URL / REDIS_HOST / REDIS_CLUSTER_NODES say (unset them for a private Redis)`);
    if (env.REDIS_URL && !(await answers(env.REDIS_URL))) throw new Error(`nothing answers at ${env.REDIS_URL} (REDIS_URL)`);
  } else {
    redisUrl = await startPrivateRedis();
  }
  // The processor serves it at /: built here when missing or older than its sources (seconds, once).
  await ensureDashboard(say);
  startService('ingest', env.INGEST_PORT, redisUrl);
  startService('process', env.PROCESS_PORT, redisUrl);
  const ingestUrl = `http://localhost:${env.INGEST_PORT}`;
  const processUrl = `http://localhost:${env.PROCESS_PORT}`;
  // Probed by address: `localhost` may resolve to ::1 first, where a 127.0.0.1 listener is not.
  const probe = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  await Promise.all([
    waitHealthy(`http://${probe}:${env.INGEST_PORT}/health`),
    waitHealthy(`http://${probe}:${env.PROCESS_PORT}/health`),
  ]);
  if (!stopping) {
    console.log(`
  energy-pipeline is running
    ingest     ${ingestUrl}   (POST /readings, POST /readings/batch, GET /health, GET /metrics, /docs)
    processor  ${processUrl}   (GET /sites, GET /sites/<site>/series, GET /dead-letters, GET /health, GET /metrics, /docs)
    dashboard  ${processUrl}/   (live: fleet, sites, pipeline; tRPC subscriptions at /trpc)
    redis      ${redisUrl ? `${redisUrl} (private, data in ${env.REDIS_DATA_DIR})` : named}
    auth       ${authOff ? `OFF on ${host}: both services answer without an API key (set API_KEYS to require one)` : 'on: send Authorization: Bearer <key>'}

  Try it:
    curl -X POST ${ingestUrl}/readings -H 'Content-Type: application/json' \\
      -d '{"site_id":"site-001","device_id":"device-001","power_reading":1500.5,"timestamp":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'"}'
    curl ${processUrl}/metrics
    npx energy-pipeline watch site site-001

  Ctrl-C stops everything.
`);
  }
} catch (err) {
  console.error(`[start] ${(err as Error).message}`);
  await shutdown('could not start', 1);
}
