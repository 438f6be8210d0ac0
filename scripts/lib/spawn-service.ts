import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { refuseInUnitTier } from './redis-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

export interface SpawnOptions {
  /** Node flags put before the script, e.g. `['--cpu-prof', '--cpu-prof-dir=/tmp/x']`. @default [] */
  nodeArgs?: string[];
  /**
   * `capture` keeps stdout and stderr for output(); `ignore` discards them, for load runs where
   * a log line per request would pile up in this process. @default 'capture'
   */
  output?: 'capture' | 'ignore';
}

/**
 * Runs a TypeScript file of this repository (path relative to its root) with tsx and the
 * workspaces' source condition, as `npm start` runs the services, with only `env` on top of PATH.
 */
export function spawnTs(script: string, env: Record<string, string>, options: SpawnOptions = {}): ServiceProcess {
  return spawnNode(script, ['--import', 'tsx', '--conditions=@energy-pipeline/source', script], env, options);
}

/** Runs a service's main.ts the way `npm start` does, with only `env` on top of PATH. */
export function spawnService(service: 'ingest' | 'process', env: Record<string, string>, options: SpawnOptions = {}): ServiceProcess {
  return spawnTs(`${service}/src/main.ts`, env, options);
}

/**
 * Runs a service as its image does (`node <service>/dist/main.js`, NODE_ENV=production, source
 * maps on): compiled by tsc, which the caller must have run (`npm run build`). What the bench
 * measures: tsx's transform adds work per closure made (its `__name` helper), which production
 * never pays.
 */
export function spawnCompiledService(service: 'ingest' | 'process', env: Record<string, string>, options: SpawnOptions = {}): ServiceProcess {
  return spawnNode(service, ['--enable-source-maps', `${service}/dist/main.js`], { NODE_ENV: 'production', ...env }, options);
}

/** Node at the repository's root with `args` after the options' flags, only `env` on top of PATH. */
function spawnNode(what: string, args: string[], env: Record<string, string>, options: SpawnOptions): ServiceProcess {
  refuseInUnitTier(`a child process (${what})`);
  const { nodeArgs = [], output = 'capture' } = options;
  const stdout = output === 'capture' ? 'pipe' : 'ignore';
  const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', stdout, stdout] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}
