import { closeSync, fsyncSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { SequenceStore } from '../sequence.js';
import { completeLines, writeAll } from './files.js';

const LOG = 'seq.log';

/**
 * The spool's `seq` reservations: an append-only file of `[site_id, device_id, mark]` JSON lines,
 * each fsynced before `reserve()` returns, so no number at or above a device's last mark was ever
 * handed out. A torn last line was never fsynced, so no number of it was handed out either.
 * On open (and when it has grown) the file is rewritten with one line per device.
 */
export class SeqLog implements SequenceStore {
  private readonly byDevice = new Map<string, [string, string, number]>();
  private fd = -1;
  private lines = 0;

  constructor(
    private readonly dir: string,
    /** Numbers reserved per write. */
    private readonly block: number,
  ) {
    if (!Number.isInteger(block) || block < 1) throw new RangeError('seqBlockSize must be a positive integer');
    for (const line of completeLines(join(dir, LOG))) {
      const entry = parseEntry(line);
      if (!entry) continue;
      const key = `${entry[0]}/${entry[1]}`;
      if (entry[2] > (this.byDevice.get(key)?.[2] ?? -1)) this.byDevice.set(key, entry);
    }
    this.compact();
  }

  marks(): Iterable<readonly [string, string, number]> {
    return this.byDevice.values();
  }

  reserve(siteId: string, deviceId: string, from: number): number {
    if (this.fd < 0) throw new Error(`The spool ${this.dir} is closed: no more seq numbers can be reserved in it`);
    const mark = from + this.block;
    writeAll(this.fd, `${JSON.stringify([siteId, deviceId, mark])}\n`);
    fsyncSync(this.fd);
    this.byDevice.set(`${siteId}/${deviceId}`, [siteId, deviceId, mark]);
    if (++this.lines > 2 * this.byDevice.size + 1000) this.compact();
    return mark;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  /** Rewrites the log with one line per device: written and fsynced aside, then renamed over it. */
  private compact() {
    const tmp = join(this.dir, `${LOG}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, [...this.byDevice.values()].map((e) => `${JSON.stringify(e)}\n`).join(''));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (this.fd >= 0) closeSync(this.fd);
    renameSync(tmp, join(this.dir, LOG));
    // The rename must be on disk before reservations are appended to the new file.
    syncDirectory(this.dir);
    this.fd = openSync(join(this.dir, LOG), 'a');
    this.lines = this.byDevice.size;
  }
}

/** fsync of a directory: needed on Linux for a rename to be durable; not possible on Windows. */
function syncDirectory(dir: string) {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EISDIR' && code !== 'EINVAL') throw err;
  } finally {
    closeSync(fd);
  }
}

function parseEntry(line: string): [string, string, number] | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const [site, device, mark] = value as unknown[];
    return typeof site === 'string' && typeof device === 'string' && Number.isInteger(mark) && (mark as number) >= 0
      ? [site, device, mark as number]
       : undefined;
  } catch {
    return undefined;
  }
}
