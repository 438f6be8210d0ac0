import { ReadingSchema, toIssues, validationError } from '@energy-pipeline/contract';
import type { EnergyPipelineClient } from './client.js';
import { BufferClosedError, BufferFullError, UnavailableError, ValidationError } from './errors.js';
import { type IdentifiedReading, type ReadingInput, type RejectedReading, withReadingId } from './readings.js';

/**
 * Durable storage behind a buffer (see `openSpool` in `@energy-pipeline/client/node`). Calls are
 * synchronous so that `add()` returns only once the reading is stored.
 */
export interface BufferStore {
  /** Readings a previous run stored and never saw acknowledged, oldest first. */
  load(): IdentifiedReading[];
  append(reading: IdentifiedReading): void;
  /** The server answered for these readings (accepted, or rejected for good): forget them. */
  acknowledge(readingIds: readonly string[]): void;
  close(): void;
}

/**
 * What `add()` does when the buffer holds `maxBufferedReadings`:
 * - `reject`: throws {@link BufferFullError}; the caller keeps the reading. Nothing the buffer
 *   accepted is ever dropped.
 * - `drop-oldest`: drops the oldest reading not in flight, counts it in `stats.dropped`, calls
 *   `onDrop`, and accepts the new one: for live telemetry where fresh readings matter most.
 */
export type OverflowPolicy = 'reject' | 'drop-oldest';

export interface BufferOptions {
  /**
   * Readings per request; a send starts as soon as this many are waiting.
   * @default the client's batchSize (1000)
   */
  maxBatchSize?: number;
  /**
   * How often waiting readings are sent even when fewer than `maxBatchSize`, in ms.
   * @default 1000
   */
  flushIntervalMs?: number;
  /**
   * Most readings held (waiting and in flight): the memory cap, and the spool's cap too.
   * @default 10000
   */
  maxBufferedReadings?: number;
  /** @default 'reject' */
  overflow?: OverflowPolicy;
  /**
   * Longest wait between background attempts while the server is unreachable, in ms; the wait
   * doubles from `flushIntervalMs` up to this.
   * @default 30000
   */
  maxRetryIntervalMs?: number;
  /** Durable storage, so readings survive a restart. @default none (memory only) */
  store?: BufferStore;
  /** A reading the server refused for good (validation): it is not kept. */
  onRejected?: (reading: IdentifiedReading, result: RejectedReading) => void;
  /** A background send failed; its readings stay buffered and are retried. */
  onError?: (error: unknown) => void;
  /** A reading dropped by the `drop-oldest` policy. */
  onDrop?: (reading: IdentifiedReading) => void;
}

export interface BufferStats {
  /** Readings waiting or in flight. */
  buffered: number;
  /** Accepted by the server since this buffer was created. */
  sent: number;
  /** Refused for good by the server (see `onRejected`). */
  rejected: number;
  /** Dropped by the overflow policy. */
  dropped: number;
  /** Loaded from the store at start: left over by an earlier run. */
  restored: number;
}

interface Entry {
  seq: number;
  reading: IdentifiedReading;
}

/**
 * Batches readings by size and by interval, sends them in order with one request in flight, and
 * keeps what could not be delivered for the next attempt. Get one from `client.buffer()`.
 */
export class ReadingBuffer {
  private readonly queue: Entry[] = [];
  private inFlight = 0;
  private seq = 0;
  private readonly counts = { sent: 0, rejected: 0, dropped: 0, restored: 0 };
  private readonly maxBatchSize: number;
  private readonly capacity: number;
  private readonly timer: ReturnType<typeof setInterval>;
  private chain: Promise<unknown> = Promise.resolve();
  private sending = false;
  private failures = 0;
  private nextAttemptAt = 0;
  private closing: Promise<BufferStats> | undefined;

  constructor(
    private readonly client: EnergyPipelineClient,
    private readonly options: BufferOptions = {},
  ) {
    this.maxBatchSize = Math.min(options.maxBatchSize ?? client.batchSize, client.batchSize);
    this.capacity = options.maxBufferedReadings ?? 10_000;
    if (this.capacity < this.maxBatchSize) throw new RangeError('maxBufferedReadings must be at least maxBatchSize');
    for (const reading of options.store?.load() ?? []) this.queue.push({ seq: ++this.seq, reading });
    this.counts.restored = this.queue.length;
    this.timer = setInterval(() => this.tick(true), options.flushIntervalMs ?? 1000);
    // A timer must not keep a process alive on its own: close() is how readings get drained.
    (this.timer as { unref?: () => void }).unref?.();
    if (this.queue.length > 0) queueMicrotask(() => this.tick(true));
  }

  get stats(): BufferStats {
    return { buffered: this.queue.length + this.inFlight, ...this.counts };
  }

  /**
   * Validates the reading, gives it a reading_id, stores it (in the store first, when there is
   * one) and returns the reading_id. Throws {@link ValidationError} for a reading the server would
   * refuse, {@link BufferFullError} when full under the `reject` policy.
   */
  add(reading: ReadingInput): string {
    if (this.closing) throw new BufferClosedError();
    const parsed = ReadingSchema.safeParse(reading);
    if (!parsed.success) {
      const body = validationError(toIssues('body', parsed.error.issues));
      throw new ValidationError(body.message, { code: body.error, issues: body.issues });
    }
    if (this.queue.length + this.inFlight >= this.capacity) this.makeRoom();
    const identified = withReadingId(reading);
    this.options.store?.append(identified);
    this.queue.push({ seq: ++this.seq, reading: identified });
    if (this.queue.length === this.maxBatchSize) queueMicrotask(() => this.tick(false));
    return identified.reading_id;
  }

  /**
   * Sends everything added before this call. Rejects with the last error when the server stays
   * unreachable past the client's retry budget; the readings stay buffered.
   */
  flush(): Promise<void> {
    const target = this.seq;
    return this.exclusive(async () => {
      while (this.queue.length > 0 && this.queue[0]!.seq <= target) await this.sendOne();
    });
  }

  /**
   * Stops the timer, sends what is buffered (once), and closes the store; safe to call twice.
   * Resolves with the final stats: `buffered` readings were not delivered (and stay in the store,
   * when there is one). Never rejects for a failed send; see `onError`.
   */
  close(): Promise<BufferStats> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      await this.flush().catch((err: unknown) => this.options.onError?.(err));
      this.options.store?.close();
      return this.stats;
    })();
    return this.closing;
  }

  private makeRoom() {
    const oldest = this.options.overflow === 'drop-oldest' ? this.queue.shift() : undefined;
    if (!oldest) throw new BufferFullError(this.capacity);
    this.options.store?.acknowledge([oldest.reading.reading_id]);
    this.counts.dropped += 1;
    this.options.onDrop?.(oldest.reading);
  }

  /** Background send: full batches, and on the interval (`all`) the partial one too. */
  private tick(all: boolean) {
    if (this.sending || this.queue.length === 0 || Date.now() < this.nextAttemptAt) return;
    this.exclusive(async () => {
      while (this.queue.length >= this.maxBatchSize) await this.sendOne();
      if (all && this.queue.length > 0) await this.sendOne();
    }).catch((err: unknown) => this.options.onError?.(err));
  }

  /** One send at a time keeps readings in order and the in-flight count exact. */
  private exclusive(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(async () => {
      this.sending = true;
      try {
        await task();
        this.failures = 0;
        this.nextAttemptAt = 0;
      } catch (err) {
        this.failures += 1;
        const base = this.options.flushIntervalMs ?? 1000;
        const wait = Math.min(this.options.maxRetryIntervalMs ?? 30_000, base * 2 ** this.failures);
        this.nextAttemptAt = Date.now() + wait / 2 + Math.random() * (wait / 2);
        throw err;
      } finally {
        this.sending = false;
      }
    });
    this.chain = run.catch(() => {});
    return run;
  }

  private async sendOne() {
    const batch = this.queue.splice(0, this.maxBatchSize);
    this.inFlight = batch.length;
    let result: Awaited<ReturnType<EnergyPipelineClient['sendReadings']>>;
    try {
      result = await this.client.sendReadings(batch.map((e) => e.reading));
    } catch (err) {
      this.queue.unshift(...batch);
      throw err;
    } finally {
      this.inFlight = 0;
    }
    const done: string[] = [];
    const keep: Entry[] = [];
    let failure: RejectedReading | undefined;
    for (const r of result.results) {
      const entry = batch[r.index]!;
      if (r.status === 'accepted') {
        this.counts.sent += 1;
        done.push(r.reading_id);
      } else if (r.retryable) {
        keep.push(entry);
        failure ??= r;
      } else {
        this.counts.rejected += 1;
        done.push(r.reading_id);
        this.options.onRejected?.(entry.reading, r);
      }
    }
    if (done.length > 0) this.options.store?.acknowledge(done);
    this.queue.unshift(...keep);
    if (failure) throw new UnavailableError(`${keep.length} readings not delivered: ${failure.message}`, { code: failure.error });
  }
}
