import { spawnSync } from 'node:child_process';

const has = (cmd: string) => !spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error;

/**
 * Makes sure `command` is installed: installs Debian's `pkg` with apt-get when it is missing and
 * this runs as root (CI containers), else fails with what to install.
 */
export function ensureCommand(command: string, pkg: string, otherwise: string): void {
  if (has(command)) return;
  const root = process.getuid?.() === 0;
  if (root && has('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { stdio: 'ignore', env });
    if (has(command)) return;
  }
  throw new Error(`${command} is not installed: apt-get install ${pkg} (Debian/Ubuntu) or ${otherwise}`);
}
