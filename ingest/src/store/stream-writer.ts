import { ReplyError } from 'ioredis';
import type { WriteOutcome } from '@energy-pipeline/contract';
import { classifyRedisFailure, ingestKeys, type RedisClient, shardOf, waitForReplicas, withDeadline } from '@energy-pipeline/server-kit';
import { type AppendCall, type AppendOutcome, AppendReadings, type TimedReading } from './append-readings.js';
import type { DedupeSettings } from './dedupe-format.js';
import type { WriteBreakers } from './write-breakers.js';

/**
 * Redis could not take the write. `outcome` says what the client may assume: `not_stored` when
 * the command was refused or never sent, `unknown` when it was sent and no answer came in time
 * (Redis may have stored it).
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(
    message: string,
    readonly outcome: WriteOutcome,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  static from(err: unknown, what: string): StoreUnavailableError {
    const outcome = classifyRedisFailure(err) === 'unknown' ? 'unknown' : 'not_stored';
    return new StoreUnavailableError(`${what} failed: ${(err as Error).message}`, outcome, { cause: err });
  }
}

/**
 * Redis answered the append with an error that retrying will not cure: a script bug, a key of
 * the wrong type. A 500, never a 503 that would have devices retry forever; nothing was stored
 * (the script writes nothing before its reads succeed).
 */
export class StoreFaultError extends Error {
  override name = 'StoreFaultError';
  constructor(
    message: string,
    /**
     * `not_stored` when Redis refused the script's first command (a key of the wrong type fails
     * the HMGET, before any write); `unknown` for any other failure, which may come after XADD.
     */
    readonly outcome: WriteOutcome,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Redis errors that pass: loading, busy, a failover or resharding under way, out of memory. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|MOVED|ASK|OOM|NOREPLICAS|NOSCRIPT|NOTBUSY|UNBLOCKED)\b/;

/** What became of one reading (append-readings.ts). */
export type Appended = AppendOutcome;

export interface StreamWriterOptions {
  /** What is remembered per device (dedupe-format.ts). */
  dedupe: DedupeSettings;
  /** Replicas that must have a write before it is acknowledged (WAIT); 0: the primary's word. @default 0 */
  writeReplicas: number;
  breakers: WriteBreakers;
}

/** Adds `value` to the list of `shard` in `byShard`. */
function addTo<T>(byShard: Map<number, T[]>, shard: number, value: T) {
  const list = byShard.get(shard);
  if (list) list.push(value);
  else byShard.set(shard, [value]);
}

/** A single reading waiting for the end of its event-loop turn. */
interface WaitingReading {
  reading: TimedReading;
  deadline: number;
  receivedAtMs: number;
  resolve(appended: Appended): void;
  reject(err: unknown): void;
}

/**
 * Appends readings to their site's shard through lua/append-readings.lua, which stores each reading
 * once per identity (its device's seq, or its device and timestamp) and remembers it per device. A
 * batch becomes one entry per shard holding all its new readings, one XADD for the lot. Single
 * readings (POST /readings) wait for the end of their turn of the event loop: one alone becomes an
 * entry of the seed's format; several of one shard, posted by many devices at once, share one
 * batch entry and one script call, as a Kafka producer batches what is ready to send, without
 * waiting for more: under load, the per-call and per-entry costs of ingest, Redis and the
 * processor are shared (docs/performance.md, the single-reading rows of `npm run bench:profile`). It
 * never trims: only the processor knows what is safe to drop. Every call goes through the
 * breaker and is answered by `deadlineMs` whatever Redis does.
 */
export class StreamWriter {
  private readonly keys: ReturnType<typeof ingestKeys>[];
  private readonly script: AppendReadings;
  /** This turn's single readings by shard, until setImmediate appends them (null: none yet). */
  private waiting: Map<number, WaitingReading[]> | null = null;

  constructor(
    private readonly redis: RedisClient,
    /** Every shard's stream, in shard order. */
    streams: readonly string[],
    private readonly options: StreamWriterOptions,
  ) {
    this.keys = streams.map(ingestKeys);
    this.script = new AppendReadings(redis, options.dedupe);
  }

  /**
   * Appends one reading, at the end of this turn of the event loop, with the others of its shard
   * that arrived in it (the earliest deadline among them bounds the call). Throws
   * StoreUnavailableError.
   */
  append(reading: TimedReading, deadlineMs: number, receivedAtMs = Date.now()): Promise<Appended> {
    return new Promise((resolve, reject) => {
      if (!this.waiting) {
        this.waiting = new Map();
        setImmediate(() => this.appendWaiting());
      }
      addTo(this.waiting, shardOf(reading.reading.site_id, this.keys.length), { reading, deadline: Date.now() + deadlineMs, receivedAtMs, resolve, reject });
    });
  }

  private appendWaiting() {
    const waiting = this.waiting!;
    this.waiting = null;
    for (const [shard, items] of waiting) void this.appendTogether(shard, items);
  }

  private async appendTogether(shard: number, items: WaitingReading[]) {
    let deadline = Number.POSITIVE_INFINITY;
    let receivedAtMs = Number.POSITIVE_INFINITY;
    for (const item of items) {
      deadline = Math.min(deadline, item.deadline);
      receivedAtMs = Math.min(receivedAtMs, item.receivedAtMs);
    }
    try {
      if (items.length === 1) {
        const [appended] = await this.run(shard, deadline, { mode: 'single', reading: items[0]!.reading, receivedAtMs });
        items[0]!.resolve(appended!);
      } else {
        const readings = items.map((item) => item.reading);
        const outcomes = await this.run(shard, deadline, { mode: 'batch', readings, receivedAtMs });
        items.forEach((item, j) => {
          item.resolve(outcomes[j]!);
        });
      }
    } catch (err) {
      for (const item of items) item.reject(err);
    }
  }

  /**
   * Appends many readings, one entry per shard they fall in, each atomic: a reading's outcome, or
   * the StoreUnavailableError or StoreFaultError of its shard's call (another shard's readings may
   * be stored).
   */
  async appendBatch(
    readings: readonly TimedReading[],
    deadlineMs: number,
    receivedAtMs = Date.now(),
  ): Promise<(Appended | StoreUnavailableError | StoreFaultError)[]> {
    const byShard = new Map<number, number[]>();
    for (let i = 0; i < readings.length; i++) addTo(byShard, shardOf(readings[i]!.reading.site_id, this.keys.length), i);
    const out: (Appended | StoreUnavailableError | StoreFaultError)[] = new Array(readings.length);
    const deadline = Date.now() + deadlineMs;
    await Promise.all(
      [...byShard].map(async ([shard, indexes]) => {
        try {
          const mine = indexes.length === readings.length ? readings : indexes.map((i) => readings[i]!);
          const results = await this.run(shard, deadline, { mode: 'batch', readings: mine, receivedAtMs });
          indexes.forEach((i, j) => {
            out[i] = results[j]!;
          });
        } catch (err) {
          if (!(err instanceof StoreUnavailableError || err instanceof StoreFaultError)) throw err;
          for (const i of indexes) out[i] = err;
        }
      }),
    );
    return out;
  }

  private async run(shard: number, deadline: number, call: AppendCall): Promise<Appended[]> {
    const { writeReplicas } = this.options;
    const keys = this.keys[shard]!;
    const breaker = this.options.breakers.of(shard);
    let reply: Awaited<ReturnType<AppendReadings['run']>>;
    try {
      breaker.assertClosed();
      reply = await withDeadline(this.script.run(keys, call), deadline - Date.now());
      breaker.record(null);
    } catch (err) {
      if (err instanceof ReplyError && !TRANSIENT_REPLY.test((err as Error).message)) {
        // Redis is up and answered: the fault is ours (a script bug) or the data's (a wrong type).
        breaker.record(null);
        const outcome = /^WRONGTYPE\b/.test((err as Error).message) ? 'not_stored' : 'unknown';
        throw new StoreFaultError(`Append to ${keys.stream} failed: ${(err as Error).message}`, outcome, { cause: err });
      }
      breaker.record(err);
      throw StoreUnavailableError.from(err, `Append to ${keys.stream}`);
    }
    if (writeReplicas > 0) {
      // Only repeats: their originals got a 2xx once, but possibly before replicas had them (a
      // WAIT that timed out). A write now, in the same slot, orders after them for WAIT to cover.
      if (reply.id === null) await this.markForReplicas(keys.replicationMark, deadline);
      await this.replicated(keys.stream, deadline);
    }
    return reply.outcomes;
  }

  private async markForReplicas(key: string, deadline: number) {
    try {
      await withDeadline(this.redis.set(key, String(Date.now())), deadline - Date.now());
    } catch (err) {
      // The originals are stored; whether replicas have them is what is unknown.
      throw new StoreUnavailableError(`Mark ${key} failed: ${(err as Error).message}`, 'unknown', { cause: err });
    }
  }

  /**
   * Waits until `writeReplicas` replicas have everything this connection wrote (WAIT, on the node
   * that owns the stream), within the request's budget. Fewer in time: the write is on the
   * primary but could be lost in a failover, so the client hears "unknown" and may resend.
   */
  private async replicated(stream: string, deadline: number) {
    const { writeReplicas } = this.options;
    let acked: number;
    try {
      acked = await waitForReplicas(this.redis, stream, writeReplicas, Math.max(1, deadline - Date.now()));
    } catch (err) {
      // The write itself went through: whatever WAIT says, the outcome is unknown, not "not stored".
      throw new StoreUnavailableError(`WAIT for ${writeReplicas} replicas failed: ${(err as Error).message}`, 'unknown', { cause: err });
    }
    if (acked < writeReplicas) {
      throw new StoreUnavailableError(`stored on the primary; only ${acked} of ${writeReplicas} replicas had it in time`, 'unknown');
    }
  }
}
