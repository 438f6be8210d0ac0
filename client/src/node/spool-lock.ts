import { openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Two writers on one spool would interleave segments and each replay the other's readings.
 * The lock file holds the owner's pid; a lock whose process is gone (killed) is taken over.
 * Returns the release function.
 */
export function lockDirectory(dir: string): () => void {
  const path = join(dir, 'lock');
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (owner && owner !== process.pid && alive(owner)) {
        throw new Error(`Spool ${dir} is in use by process ${owner}`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`Could not lock spool ${dir}`);
}
