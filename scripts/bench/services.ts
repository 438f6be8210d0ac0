import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { freePort } from '../lib/redis-server.js';
import { spawnCompiledService, spawnTs, type ServiceProcess, type SpawnOptions } from '../lib/spawn-service.js';
import type { LoadResult, LoadSpec } from './load-spec.js';

/** The bench's API key: auth is on, as in production. */
export const BENCH_TOKEN = 'bench-token-0123456789abcdef0123456789abcdef';
export const BENCH_AUTH = { authorization: `Bearer ${BENCH_TOKEN}` };

/** Every process the bench started and that still runs, so that an interrupted bench leaves none behind. */
const live = new Set<ServiceProcess>();
export const track = (proc: ServiceProcess) => {
  live.add(proc);
  void proc.exit.then(() => live.delete(proc));
  return proc;
};

/** SIGKILLs what the bench started and is still running (on Ctrl-C). */
export function killStarted() {
  for (const proc of live) proc.child.kill('SIGKILL');
}

export interface RunningService {
  url: string;
  proc: ServiceProcess;
  /** The service's own process (node itself, not a wrapper), for its CPU time. */
  pid: number | undefined;
  /** SIGTERM and wait for the exit (a --cpu-prof profile is written then). */
  stop(): Promise<void>;
}

async function waitHealthy(url: string, proc: ServiceProcess, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${url} exited with ${proc.child.exitCode}: ${proc.output()}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) return;
    if (Date.now() > deadline) throw new Error(`${url} was not healthy within ${timeoutMs} ms: ${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function start(spawn: (port: number) => ServiceProcess): Promise<RunningService> {
  const port = await freePort();
  const proc = track(spawn(port));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url, proc);
  } catch (err) {
    proc.child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    proc,
    pid: proc.child.pid,
    async stop() {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
      await proc.exit;
    },
  };
}

let built: Promise<unknown> | null = null;

/**
 * Compiles the services once per bench run (tsc, as their images are built): the bench measures
 * `node <service>/dist/main.js`, what production runs, not tsx's transform of the source.
 */
function buildServices() {
  built ??= promisify(execFile)('npm', ['run', 'build', '-w', 'contract', '-w', 'server-kit', '-w', 'ingest', '-w', 'process'], {
    cwd: new URL('../..', import.meta.url),
  });
  return built;
}

/**
 * The real ingest service (ingest/dist/main.js, compiled from ingest/src) as production runs it: auth on, rate limiting
 * on (counted in memory, shared through Redis) with a limit the bench never reaches, backlog shedding on with a limit
 * it never reaches, metrics on, logging at info with the default access log, failures only (to /dev/null); event-loop shedding off.
 * `env` overrides any of it.
 */
export async function startIngest(redisUrl: string, stream: string, env: Record<string, string> = {}, options: SpawnOptions = {}) {
  await buildServices();
  return start((port) =>
    spawnCompiledService(
      'ingest',
      {
        REDIS_URL: redisUrl,
        REDIS_STREAM: stream,
        HOST: '127.0.0.1',
        PORT: String(port),
        API_KEYS: createHash('sha256').update(BENCH_TOKEN).digest('hex'),
        RATE_LIMIT_MAX: '1000000000',
        MAX_BACKLOG: '1000000000',
        // Event-loop shedding off: on a machine shared with other work the loop stalls for
        // reasons of its own, and a 503 measures the neighbours, not ingest.
        MAX_EVENT_LOOP_DELAY_MS: '0',
        ...env,
      },
      { output: 'ignore', ...options },
    ),
  );
}

/**
 * The real processor (process/dist/main.js, compiled) with its defaults: its worker starts at once. Auth on,
 * as in production (it refuses to start without keys): the bench token with the read scope.
 */
export async function startProcessor(redisUrl: string, stream: string, group: string, env: Record<string, string> = {}, options: SpawnOptions = {}) {
  await buildServices();
  return start((port) =>
    spawnCompiledService(
      'process',
      {
        REDIS_URL: redisUrl,
        REDIS_STREAM: stream,
        CONSUMER_GROUP: group,
        CONSUMER_NAME: 'bench',
        HOST: '127.0.0.1',
        PORT: String(port),
        // Auth on, as in production: the processor refuses to start without a key.
        API_KEYS: `${createHash('sha256').update(BENCH_TOKEN).digest('hex')}@read`,
        ...env,
      },
      { output: 'ignore', ...options },
    ),
  );
}

/** The one-XADD ts-rest route (baseline-server.ts). */
export function startBaselineApp(redisUrl: string, stream: string, options: SpawnOptions = {}) {
  return start((port) => spawnTs('scripts/bench/baseline-server.ts', { REDIS_URL: redisUrl, STREAM: stream, PORT: String(port) }, options));
}

/**
 * Runs load.ts in its own process; `onStart` runs when the measured part begins (the bench
 * reads Redis counters there) and its result comes back with the load's.
 */
export async function runLoad<T>(spec: LoadSpec, onStart: () => Promise<T>): Promise<{ load: LoadResult; atStart: T }> {
  const proc = track(spawnTs('scripts/bench/load.ts', { BENCH_LOAD: JSON.stringify(spec) }));
  let atStart: Promise<T> | null = null;
  let load: LoadResult | null = null;
  for await (const line of createInterface({ input: proc.child.stdout! })) {
    if (!line.startsWith('{')) continue;
    const message = JSON.parse(line) as { event: string } & LoadResult;
    if (message.event === 'start') atStart = onStart();
    if (message.event === 'end') load = message;
  }
  const code = await proc.exit;
  if (code !== 0 || !load || !atStart) throw new Error(`load generator failed (${code}): ${proc.output()}`);
  return { load, atStart: await atStart };
}
