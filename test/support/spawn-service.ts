import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

/** Runs a service's main.ts the way `npm start` does, with only `env` on top of PATH. */
export function spawnService(service: 'ingest' | 'process', env: Record<string, string>): ServiceProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@energy-pipeline/source', `${service}/src/main.ts`],
    { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}
