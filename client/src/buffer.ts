import { ReadingSchema, toIssues, validationError } from '@energy-pipeline/contract';
import { fitBatch, readingBytes } from './batches.js';
import { BufferClosedError, BufferFullError, EnergyPipelineError, UnavailableError, ValidationError } from './errors.js';
import type {
  AcceptedReading,
  IdentifiedReading,
  ReadingInput,
  RejectedReading,
  SendReadingsOptions,
  SendReadingsResult,
  UnconfirmedReading,
} from './readings.js';
import { answerLost, type BackoffShape, backoffMs } from './retry.js';
import type { SequenceStore } from './sequence.js';

/**
 * Durable storage behind a buffer (see `openSpool` in `@energy-pipeline/client/node`). Calls are
 * synchronous so that `add()` returns only once the reading is stored.
 */
export interface BufferStore {
  /** Readings a previous run stored and never saw acknowledged, oldest first. */
  load(): IdentifiedReading[];
  append(reading: IdentifiedReading): void;
  /** The server answered for these readings (accepted, rejected for good, or unconfirmed): forget them. */
  acknowledge(readingIds: readonly string[]): void;
  /**
   * Optional: these readings are about to be sent. A later run gets those of them never
   * acknowledged from `sentBefore()`: the run that sent them may have stored them without
   * hearing so (a crash with the request in flight), so an `out_of_order` answer to their resend
   * is reported `unconfirmed`, not rejected.
   */
  sending?(readingIds: readonly string[]): void;
  /** Optional: the reading_ids, among those `load()` hands back, that an earlier run marked with `sending()`. */
  sentBefore?(): ReadonlySet<string>;
  close(): void;
  /** Where the client's per-device `seq` counters are persisted, if this store keeps them. */
  readonly sequence?: SequenceStore;
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
   * Bytes of JSON per request; a send starts as soon as this many are waiting.
   * @default the client's maxBatchBytes (1000000)
   */
  maxBatchBytes?: number;
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
  /**
   * The server accepted these readings (once per request; a resend it recognised is accepted
   * too, with `duplicate: true`). `results[i]` belongs to `readings[i]`. For logs, metrics, or
   * marking readings as delivered elsewhere.
   */
  onSuccess?: (readings: IdentifiedReading[], results: AcceptedReading[]) => void;
  /** A reading the server refused for good (validation, conflict, ...): it is not kept. */
  onRejected?: (reading: IdentifiedReading, result: RejectedReading) => void;
  /**
   * A reading that may be stored from an earlier attempt whose answer was lost, and that the
   * server could no longer check (`out_of_order` with `stored_before: unknown` on the resend):
   * not a refusal, counted in `stats.unconfirmed`, not kept (a resend cannot tell either).
   */
  onUnconfirmed?: (reading: IdentifiedReading, result: UnconfirmedReading) => void;
  /**
   * A background send failed; its readings stay buffered and are retried. Also gets what another
   * callback threw: a throwing callback never changes what the buffer keeps.
   */
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
  /**
   * May be stored from an attempt whose answer was lost; too old by the resend for the server to
   * check (see `onUnconfirmed`). Not counted in `rejected`.
   */
  unconfirmed: number;
  /** Dropped by the overflow policy. */
  dropped: number;
  /** Loaded from the store at start: left over by an earlier run. */
  restored: number;
}

interface Entry {
  /** Position in add() order, for flush(). */
  order: number;
  reading: IdentifiedReading;
  /** Its share of a batch body, in bytes. */
  bytes: number;
  /** An attempt to send it got no answer that says what became of it: it may be stored. */
  unanswered: boolean;
}

/**
 * Sends one batch of readings that already carry their reading_id and seq; resolves with one
 * result per reading, in order. `options.unanswered` names the readings an earlier send may have
 * stored without hearing so. `client.buffer()` passes its `sendReadings`.
 */
export type SendBatch = (readings: IdentifiedReading[], options: Pick<SendReadingsOptions, 'unanswered'>) => Promise<SendReadingsResult>;

/** The few values a buffer takes from its client besides the send function. */
export interface BufferSetup {
  /** Gives a reading its reading_id and its device's next seq, before it is stored. */
  identify: (reading: ReadingInput) => IdentifiedReading;
  /** The client's cap in readings per request; `maxBatchSize` is at most this. */
  batchSize: number;
  /** The client's cap in bytes per request; `maxBatchBytes` is at most this. */
  maxBatchBytes: number;
}

/**
 * Batches readings by size and by interval, sends them in order with one request in flight, and
 * keeps what could not be delivered for the next attempt. Get one from `client.buffer()`: the
 * buffer knows its client only as the send function and values it was built with.
 */
export class ReadingBuffer {
  private readonly queue: Entry[] = [];
  private inFlight = 0;
  private added = 0;
  private queuedBytes = 0;
  private readonly counts = { sent: 0, rejected: 0, unconfirmed: 0, dropped: 0, restored: 0 };
  private readonly maxBatchSize: number;
  private readonly maxBatchBytes: number;
  private readonly capacity: number;
  private readonly timer: ReturnType<typeof setInterval>;
  private chain: Promise<unknown> = Promise.resolve();
  private sending = false;
  private failures = 0;
  private nextAttemptAt = 0;
  private closing: Promise<BufferStats> | undefined;
  private readonly identify: BufferSetup['identify'];
  /** Background attempts after a failure: from twice the flush interval, doubling, up to maxRetryIntervalMs. */
  private readonly retryBackoff: BackoffShape;

  constructor(
    private readonly send: SendBatch,
    setup: BufferSetup,
    private readonly options: BufferOptions = {},
  ) {
    this.identify = setup.identify;
    this.maxBatchSize = Math.min(options.maxBatchSize ?? setup.batchSize, setup.batchSize);
    this.maxBatchBytes = Math.min(options.maxBatchBytes ?? setup.maxBatchBytes, setup.maxBatchBytes);
    this.capacity = options.maxBufferedReadings ?? 10_000;
    if (this.capacity < this.maxBatchSize) throw new RangeError('maxBufferedReadings must be at least maxBatchSize');
    this.retryBackoff = { baseDelayMs: 2 * (options.flushIntervalMs ?? 1000), maxDelayMs: options.maxRetryIntervalMs ?? 30_000 };
    const restored = options.store?.load() ?? [];
    const sentBefore = restored.length > 0 ? options.store?.sentBefore?.() : undefined;
    this.push(...restored.map((reading) => this.entry(reading, sentBefore?.has(reading.reading_id) ?? false)));
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
   * Validates the reading, gives it a reading_id and its device's next seq (unless it has them),
   * stores it (in the store first, when there is one) and returns the reading_id. Throws {@link ValidationError} for a reading the server would
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
    const identified = this.identify(reading);
    this.options.store?.append(identified);
    const wasFull = this.batchWaiting();
    this.push(this.entry(identified));
    if (!wasFull && this.batchWaiting()) queueMicrotask(() => this.tick(false));
    return identified.reading_id;
  }

  /**
   * Sends everything added before this call. Rejects with the last error when the server stays
   * unreachable past the client's retry budget; the readings stay buffered.
   */
  flush(): Promise<void> {
    const target = this.added;
    return this.exclusive(async () => {
      while (this.queue.length > 0 && this.queue[0]!.order <= target) await this.sendOne();
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
      await this.flush().catch((err: unknown) => this.notify(this.options.onError, err));
      this.options.store?.close();
      return this.stats;
    })();
    return this.closing;
  }

  private makeRoom() {
    const oldest = this.options.overflow === 'drop-oldest' ? this.queue.shift() : undefined;
    if (!oldest) throw new BufferFullError(this.capacity);
    this.queuedBytes -= oldest.bytes;
    this.options.store?.acknowledge([oldest.reading.reading_id]);
    this.counts.dropped += 1;
    this.notify(this.options.onDrop, oldest.reading);
  }

  private entry(reading: IdentifiedReading, unanswered = false): Entry {
    return { order: ++this.added, reading, bytes: readingBytes(reading), unanswered };
  }

  /** Puts entries at the end of the queue, or back at its head. */
  private push(...entries: Entry[]) {
    this.queue.push(...entries);
    for (const e of entries) this.queuedBytes += e.bytes;
  }

  private pushFront(entries: Entry[]) {
    this.queue.unshift(...entries);
    for (const e of entries) this.queuedBytes += e.bytes;
  }

  /** A full batch, in readings or in bytes, is waiting. */
  private batchWaiting(): boolean {
    return this.queue.length >= this.maxBatchSize || this.queuedBytes >= this.maxBatchBytes;
  }

  /** Calls a user callback; what it throws goes to onError, never into the buffer's bookkeeping. */
  private notify<A extends unknown[]>(callback: ((...args: A) => void) | undefined, ...args: A) {
    try {
      callback?.(...args);
    } catch (err) {
      if (callback !== this.options.onError && this.options.onError) this.notify(this.options.onError, err);
      // onError itself threw, or there is none: surface it as any listener's error would be.
      else queueMicrotask(() => {
        throw err;
      });
    }
  }

  /** Background send: full batches, and on the interval (`all`) the partial one too. */
  private tick(all: boolean) {
    if (this.sending || this.queue.length === 0 || Date.now() < this.nextAttemptAt) return;
    this.exclusive(async () => {
      while (this.batchWaiting()) await this.sendOne();
      if (all && this.queue.length > 0) await this.sendOne();
    }).catch((err: unknown) => this.notify(this.options.onError, err));
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
        // Equal jitter: a floor of half the wait, so an unreachable server is not retried at once.
        this.nextAttemptAt = Date.now() + backoffMs(this.failures, this.retryBackoff, Math.random, 'equal');
        throw err;
      } finally {
        this.sending = false;
      }
    });
    this.chain = run.catch(() => {});
    return run;
  }

  private async sendOne() {
    const n = fitBatch((i) => this.queue[i]!.bytes, this.queue.length, this.maxBatchSize, this.maxBatchBytes);
    const batch = this.queue.splice(0, n);
    for (const e of batch) this.queuedBytes -= e.bytes;
    this.inFlight = batch.length;
    const unanswered = new Set(batch.filter((e) => e.unanswered).map((e) => e.reading.reading_id));
    let result: SendReadingsResult;
    try {
      this.options.store?.sending?.(batch.map((e) => e.reading.reading_id));
      result = await this.send(batch.map((e) => e.reading), { unanswered });
    } catch (err) {
      // A call that threw after an attempt went unanswered may have stored the readings.
      if (err instanceof EnergyPipelineError && (err.earlierAnswerLost || answerLost(err))) for (const e of batch) e.unanswered = true;
      this.pushFront(batch);
      throw err;
    } finally {
      this.inFlight = 0;
    }
    const done: string[] = [];
    const keep: Entry[] = [];
    const delivered: IdentifiedReading[] = [];
    const accepted: AcceptedReading[] = [];
    const refused: [IdentifiedReading, RejectedReading][] = [];
    const unconfirmed: [IdentifiedReading, UnconfirmedReading][] = [];
    let failure: RejectedReading | undefined;
    for (const r of result.results) {
      const entry = batch[r.index]!;
      if (r.status === 'accepted') {
        this.counts.sent += 1;
        done.push(r.reading_id);
        delivered.push(entry.reading);
        accepted.push(r);
      } else if (r.status === 'unconfirmed') {
        this.counts.unconfirmed += 1;
        done.push(r.reading_id);
        unconfirmed.push([entry.reading, r]);
      } else if (r.retryable) {
        if (r.outcome === 'unknown') entry.unanswered = true;
        keep.push(entry);
        failure ??= r;
      } else {
        this.counts.rejected += 1;
        done.push(r.reading_id);
        refused.push([entry.reading, r]);
      }
    }
    if (done.length > 0) this.options.store?.acknowledge(done);
    this.pushFront(keep);
    // Callbacks last: the bookkeeping above is complete whatever they do.
    if (accepted.length > 0) this.notify(this.options.onSuccess, delivered, accepted);
    for (const [reading, r] of refused) this.notify(this.options.onRejected, reading, r);
    for (const [reading, r] of unconfirmed) this.notify(this.options.onUnconfirmed, reading, r);
    if (failure) throw new UnavailableError(`${keep.length} readings not delivered: ${failure.message}`, { code: failure.error });
  }
}
