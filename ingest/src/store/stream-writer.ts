import type { Reading, WriteOutcome } from '@energy-pipeline/contract';
import { encodeReading, readingJson } from '@energy-pipeline/contract';
import { classifyRedisFailure, ingestKeys, readingIdentity, type RedisClient, shardOf, waitForReplicas, withDeadline } from '@energy-pipeline/server-kit';
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
 * What became of one reading: `stored` in the entry `id`; `repeat` of a reading stored earlier
 * (nothing appended); `unverifiable`: older than what is remembered of its device, so it cannot be
 * told apart from a repeat, and it was not stored.
 */
export type Appended = { status: 'stored'; id: string } | { status: 'repeat' } | { status: 'unverifiable' };

export interface StreamWriterOptions {
  /** Gaps remembered per device and identity space (lua/append-readings.lua). @default 16 */
  dedupeMaxGaps: number;
  /** Replicas that must have a write before it is acknowledged (WAIT); 0: the primary's word. @default 0 */
  writeReplicas: number;
  breakers: WriteBreakers;
}

/**
 * Appends readings to their site's shard through lua/append-readings.lua, which stores each reading
 * once per identity (its device's seq, or its device and timestamp) and remembers it per device. A
 * single reading becomes an entry of the seed's format; a batch becomes one entry per shard holding
 * all its new readings, one XADD for the lot. It never trims: only the processor knows what is safe
 * to drop. Every call goes through the breaker and is answered by `deadlineMs` whatever Redis does.
 */
export class StreamWriter {
  private readonly keys: ReturnType<typeof ingestKeys>[];

  constructor(
    private readonly redis: RedisClient,
    /** Every shard's stream, in shard order. */
    streams: readonly string[],
    private readonly options: StreamWriterOptions,
  ) {
    this.keys = streams.map(ingestKeys);
  }

  /** Appends one reading as an entry of its own. Throws StoreUnavailableError. */
  async append(reading: Reading, deadlineMs: number, receivedAtMs = Date.now()): Promise<Appended> {
    const { field, value } = readingIdentity(reading);
    const [appended] = await this.run(shardOf(reading.site_id, this.keys.length), Date.now() + deadlineMs, 'single', [field, value, ...encodeReading(reading, receivedAtMs)]);
    return appended!;
  }

  /**
   * Appends many readings, one entry per shard they fall in, each atomic: a reading's outcome, or
   * the StoreUnavailableError of its shard's call (another shard's readings may be stored).
   */
  async appendBatch(readings: readonly Reading[], deadlineMs: number, receivedAtMs = Date.now()): Promise<(Appended | StoreUnavailableError)[]> {
    const byShard = new Map<number, number[]>();
    readings.forEach((r, i) => {
      const shard = shardOf(r.site_id, this.keys.length);
      const indexes = byShard.get(shard);
      if (indexes) indexes.push(i);
      else byShard.set(shard, [i]);
    });
    const out: (Appended | StoreUnavailableError)[] = new Array(readings.length);
    const deadline = Date.now() + deadlineMs;
    await Promise.all(
      [...byShard].map(async ([shard, indexes]) => {
        // The script's two batch arguments (lua/append-readings.lua): identity lines, and the array.
        let identities = '';
        const json: string[] = new Array(indexes.length);
        indexes.forEach((i, j) => {
          const { field, value } = readingIdentity(readings[i]!);
          json[j] = readingJson(readings[i]!);
          // In bytes: Lua cuts the array by them (ids may be any letters).
          identities += `${field}\t${value}\t${Buffer.byteLength(json[j]!)}\n`;
        });
        try {
          const results = await this.run(shard, deadline, 'batch', [receivedAtMs, identities, `[${json.join(',')}]`]);
          indexes.forEach((i, j) => {
            out[i] = results[j]!;
          });
        } catch (err) {
          if (!(err instanceof StoreUnavailableError)) throw err;
          for (const i of indexes) out[i] = err;
        }
      }),
    );
    return out;
  }

  private async run(shard: number, deadline: number, mode: 'single' | 'batch', args: (string | number)[]): Promise<Appended[]> {
    const { dedupeMaxGaps, writeReplicas } = this.options;
    const keys = this.keys[shard]!;
    const breaker = this.options.breakers.of(shard);
    let reply: [string | null, string];
    try {
      breaker.assertClosed();
      const call = this.redis.appendReadings(keys.stream, keys.dedupe, dedupeMaxGaps, mode, ...args);
      reply = await withDeadline(call, deadline - Date.now());
      breaker.record(null);
    } catch (err) {
      breaker.record(err);
      throw StoreUnavailableError.from(err, `Append to ${keys.stream}`);
    }
    if (writeReplicas > 0) {
      // Only repeats: their originals got a 2xx once, but possibly before replicas had them (a
      // WAIT that timed out). A write now, in the same slot, orders after them for WAIT to cover.
      if (reply[0] === null) await this.markForReplicas(keys.replicationMark, deadline);
      await this.replicated(keys.stream, deadline);
    }
    const [id, outcomes] = reply;
    // One object per outcome, shared by the readings that had it (they are read, never changed).
    const shared: Appended[] = [{ status: 'stored', id: id! }, { status: 'repeat' }, { status: 'unverifiable' }];
    const appended: Appended[] = new Array(outcomes.length);
    for (let r = 0; r < outcomes.length; r++) appended[r] = shared[outcomes.charCodeAt(r) - 48]!;
    return appended;
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
