import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Who holds a lock: enough to tell, after a crash or a reboot, whether that process still runs. */
export interface LockOwner {
  pid: number;
  /** Linux's id of the boot the owner ran in; a lock from an earlier boot is stale whatever its pid. */
  boot_id?: string;
  /** The owner's start time in clock ticks since boot (Linux), which tells a reused pid apart. */
  start?: string;
}

const readOptional = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** The current boot's id, where the system has one (Linux). */
export const currentBootId = () => readOptional('/proc/sys/kernel/random/boot_id')?.trim() || undefined;

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
export function processStart(pid: number): string | undefined {
  const stat = readOptional(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads a lock file: JSON, or a bare pid as older versions wrote it. */
export function parseOwner(text: string): LockOwner | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const value = JSON.parse(trimmed) as LockOwner;
    return Number.isInteger(value?.pid) && value.pid > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the lock's owner still runs. After a reboot (a device's power cut) the pid in a lock
 * may belong to another program, so a lock from another boot is stale, and so is one whose pid
 * now belongs to a process that started at another time.
 */
export function ownerAlive(owner: LockOwner, bootId = currentBootId()): boolean {
  if (owner.boot_id && bootId && owner.boot_id !== bootId) return false;
  if (owner.start) {
    const start = processStart(owner.pid);
    if (start !== undefined && start !== owner.start) return false;
  }
  return alive(owner.pid);
}

/**
 * Two writers on one spool would interleave segments and each replay the other's readings. The
 * lock file names its owner (pid, boot id, start time); a lock whose owner is gone is taken over.
 * Returns the release function.
 */
export function lockDirectory(dir: string): () => void {
  const path = join(dir, 'lock');
  const me: LockOwner = { pid: process.pid, boot_id: currentBootId(), start: processStart(process.pid) };
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, JSON.stringify(me));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = parseOwner(readOptional(path) ?? '');
      if (owner && owner.pid === process.pid) {
        // Our pid: this process holds it, or a process of an earlier boot did.
        if (owner.boot_id === me.boot_id && owner.start === me.start) throw new Error(`Spool ${dir} is already open in this process`);
      } else if (owner && ownerAlive(owner)) {
        throw new Error(`Spool ${dir} is in use by process ${owner.pid}`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`Could not lock spool ${dir}`);
}
