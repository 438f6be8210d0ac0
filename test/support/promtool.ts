import { spawnSync } from 'node:child_process';

const has = (cmd: string) => !spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error;

/**
 * Makes sure `promtool` (Debian package `prometheus`) is installed: installs it with apt-get when
 * it is missing and this runs as root (CI containers), else fails with what to install.
 * Installing the package also installs a prometheus service; in a container without an init
 * system it is not started.
 */
export function ensurePromtool(): void {
  if (has('promtool')) return;
  const root = process.getuid?.() === 0;
  if (root && has('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'prometheus'], { stdio: 'ignore', env });
    if (has('promtool')) return;
  }
  throw new Error('promtool is not installed: apt-get install prometheus (Debian/Ubuntu) or brew install prometheus');
}

/** Runs `promtool check metrics` on an exposition; returns its exit code and what it printed. */
export function promtoolCheckMetrics(text: string): { code: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Runs promtool with `args` (from `cwd`); returns its exit code and what it printed. */
export function promtool(args: string[], cwd?: string): { code: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8', cwd });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}
