import { spawnSync } from 'node:child_process';
import { ensureCommand } from './ensure-command.js';

/**
 * Makes sure `promtool` (Debian package `prometheus`) is installed (ensureCommand). Installing the
 * package also installs a prometheus service; in a container without an init system it is not
 * started.
 */
export function ensurePromtool(): void {
  ensureCommand('promtool', 'prometheus', 'brew install prometheus');
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
