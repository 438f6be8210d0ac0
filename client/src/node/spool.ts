import { appendFileSync, closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BufferStore } from '../buffer.js';
import type { IdentifiedReading } from '../readings.js';
import { completeLines, writeAll } from './files.js';
import { SeqLog } from './seq-log.js';
import { lockDirectory } from './spool-lock.js';

/**
 * When appended readings are forced to disk. A killed process loses nothing in any mode (the
 * data is in the OS page cache once `add()` returns); these differ on a power cut or kernel crash:
 * - `always`: fsync after every reading (slowest; loses nothing)
 * - `interval`: fsync every `fsyncIntervalMs` (loses at most that much)
 * - `never`: leave it to the OS
 */
export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface SpoolOptions {
  /** @default 'interval' */
  fsync?: FsyncPolicy;
  /** @default 1000 */
  fsyncIntervalMs?: number;
  /**
   * A segment file is closed and a new one started past this size; a closed segment is deleted
   * once all its readings are acknowledged.
   * @default 1048576 (1 MiB)
   */
  segmentMaxBytes?: number;
  /**
   * `seq` numbers reserved per device with each fsynced write of `seq.log`; a crash skips at
   * most this many numbers of a device (harmless) and never reuses one.
   * @default 1000
   */
  seqBlockSize?: number;
}

interface Segment {
  n: number;
  /** reading_ids appended and not yet acknowledged */
  outstanding: Set<string>;
}

const SEGMENT = /^segment-(\d{8})\.jsonl$/;
const segmentFile = (n: number) => `segment-${String(n).padStart(8, '0')}.jsonl`;
const acksFile = (n: number) => `segment-${String(n).padStart(8, '0')}.acks`;
const sentFile = (n: number) => `segment-${String(n).padStart(8, '0')}.sent`;

/**
 * A directory of append-only segment files, one JSON reading per line, each with an `.acks`
 * file listing the reading_ids already answered for, a `.sent` file listing those sent at least
 * once, and `seq.log`, the reservations of the per-device sequence numbers (see {@link SeqLog}).
 * On open, every reading of every segment that is not in its `.acks` is handed back for sending;
 * a torn last line (a crash mid-write) is skipped, as `add()` had not returned for it. Replays
 * after a crash may resend a reading whose acknowledgement was not yet written: its reading_id
 * makes that harmless. Those in `.sent` may have been stored by a request whose answer the crash
 * lost (`sentBefore()`), so a resend the server can no longer check is reported `unconfirmed`.
 */
export class FileSpool implements BufferStore {
  private readonly segments = new Map<number, Segment>();
  private readonly segmentOf = new Map<string, number>();
  private current!: Segment;
  private fd = -1;
  private bytes = 0;
  private dirty = false;
  private closed = false;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly releaseLock: () => void;
  private readonly fsync: FsyncPolicy;
  private readonly segmentMaxBytes: number;
  private restored: IdentifiedReading[] = [];
  /** Restored readings an earlier run had sent (their `.sent` line), until `sentBefore()` takes them. */
  private restoredSent = new Set<string>();
  /** reading_ids outstanding with a `.sent` line already, so that a resend writes none. */
  private readonly marked = new Set<string>();
  /** Where the client's per-device `seq` counters are persisted; a buffer attaches it. */
  readonly sequence: SeqLog;

  constructor(
    readonly dir: string,
    options: SpoolOptions = {},
  ) {
    this.fsync = options.fsync ?? 'interval';
    this.segmentMaxBytes = options.segmentMaxBytes ?? 1024 * 1024;
    mkdirSync(dir, { recursive: true });
    this.releaseLock = lockDirectory(dir);
    this.sequence = new SeqLog(dir, options.seqBlockSize ?? 1000);
    this.restore();
    this.openSegment(Math.max(0, ...this.segments.keys()) + 1);
    if (this.fsync === 'interval') {
      this.timer = setInterval(() => this.sync(), options.fsyncIntervalMs ?? 1000);
      this.timer.unref();
    }
  }

  load(): IdentifiedReading[] {
    const out = this.restored;
    this.restored = [];
    return out;
  }

  append(reading: IdentifiedReading): void {
    if (this.closed) throw new Error('The spool is closed');
    const line = Buffer.from(`${JSON.stringify(reading)}\n`);
    writeAll(this.fd, line);
    this.bytes += line.length;
    this.current.outstanding.add(reading.reading_id);
    this.segmentOf.set(reading.reading_id, this.current.n);
    if (this.fsync === 'always') fsyncSync(this.fd);
    else this.dirty = true;
    if (this.bytes >= this.segmentMaxBytes) this.openSegment(this.current.n + 1);
  }

  /**
   * Marks readings as sent, once each, in their segment's `.sent` file (no fsync: a lost mark
   * only makes a later `out_of_order` answer count as a refusal, as it would without the mark).
   */
  sending(readingIds: readonly string[]): void {
    if (this.closed) return;
    const bySegment = new Map<number, string[]>();
    for (const id of readingIds) {
      const n = this.segmentOf.get(id);
      if (n === undefined || this.marked.has(id)) continue;
      this.marked.add(id);
      bySegment.set(n, [...(bySegment.get(n) ?? []), id]);
    }
    for (const [n, ids] of bySegment) appendFileSync(join(this.dir, sentFile(n)), `${ids.join('\n')}\n`);
  }

  sentBefore(): ReadonlySet<string> {
    const out = this.restoredSent;
    this.restoredSent = new Set();
    return out;
  }

  acknowledge(readingIds: readonly string[]): void {
    if (this.closed) return;
    const bySegment = new Map<number, string[]>();
    for (const id of readingIds) {
      const n = this.segmentOf.get(id);
      if (n === undefined) continue;
      this.segmentOf.delete(id);
      this.marked.delete(id);
      bySegment.set(n, [...(bySegment.get(n) ?? []), id]);
    }
    for (const [n, ids] of bySegment) {
      const segment = this.segments.get(n)!;
      for (const id of ids) segment.outstanding.delete(id);
      if (segment.outstanding.size === 0) this.compact(segment);
      // Acks need no fsync: a lost one only makes a reading be resent, which reading_id makes safe.
      else appendFileSync(join(this.dir, acksFile(n)), `${ids.join('\n')}\n`);
    }
  }

  /** Readings stored and not yet acknowledged. */
  get size(): number {
    return this.segmentOf.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.sync();
    closeSync(this.fd);
    this.fd = -1;
    if (this.current.outstanding.size === 0) this.remove(this.current.n);
    this.sequence.close();
    this.releaseLock();
  }

  private sync() {
    if (!this.dirty || this.fd < 0) return;
    fsyncSync(this.fd);
    this.dirty = false;
  }

  /** Every reading of a segment is answered for: drop the file (or empty it, if still written to). */
  private compact(segment: Segment) {
    if (segment === this.current) {
      ftruncateSync(this.fd, 0);
      this.bytes = 0;
      rmSync(join(this.dir, acksFile(segment.n)), { force: true });
      rmSync(join(this.dir, sentFile(segment.n)), { force: true });
    } else {
      this.remove(segment.n);
    }
  }

  private remove(n: number) {
    // Segment first: an .acks or .sent file without its segment is cleaned up on the next open.
    rmSync(join(this.dir, segmentFile(n)), { force: true });
    rmSync(join(this.dir, acksFile(n)), { force: true });
    rmSync(join(this.dir, sentFile(n)), { force: true });
    this.segments.delete(n);
  }

  private openSegment(n: number) {
    if (this.fd >= 0) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.dirty = false;
      if (this.current.outstanding.size === 0) this.remove(this.current.n);
    }
    this.fd = openSync(join(this.dir, segmentFile(n)), 'a');
    this.bytes = 0;
    this.current = { n, outstanding: new Set() };
    this.segments.set(n, this.current);
  }

  private restore() {
    const numbers = readdirSync(this.dir)
      .map((name) => SEGMENT.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const n of numbers) {
      const acked = new Set(completeLines(join(this.dir, acksFile(n))));
      const sent = new Set(completeLines(join(this.dir, sentFile(n))));
      const segment: Segment = { n, outstanding: new Set() };
      for (const line of completeLines(join(this.dir, segmentFile(n)))) {
        const reading = parseReading(line);
        if (!reading || acked.has(reading.reading_id) || this.segmentOf.has(reading.reading_id)) continue;
        segment.outstanding.add(reading.reading_id);
        this.segmentOf.set(reading.reading_id, n);
        this.restored.push(reading);
        if (sent.has(reading.reading_id)) {
          this.restoredSent.add(reading.reading_id);
          this.marked.add(reading.reading_id);
        }
      }
      this.segments.set(n, segment);
      if (segment.outstanding.size === 0) this.compact(segment);
    }
    // .acks and .sent files whose segment is gone: a crash between the deletions of compact().
    for (const name of readdirSync(this.dir)) {
      const n = /^segment-(\d{8})\.(?:acks|sent)$/.exec(name)?.[1];
      if (n !== undefined && !existsSync(join(this.dir, segmentFile(Number(n))))) rmSync(join(this.dir, name), { force: true });
    }
  }
}

function parseReading(line: string): IdentifiedReading | undefined {
  try {
    const value = JSON.parse(line) as IdentifiedReading;
    return typeof value?.reading_id === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Opens (or creates) a spool directory; pass it as `store` to `client.buffer()`. */
export function openSpool(dir: string, options?: SpoolOptions): FileSpool {
  return new FileSpool(dir, options);
}
