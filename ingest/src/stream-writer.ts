import type { ChainableCommander, Redis } from 'ioredis';
import type { Reading, WriteOutcome } from '@energy-pipeline/contract';
import { classifyRedisFailure, encodeReading, ingestKeys, type RedisBreaker, withDeadline } from '@energy-pipeline/contract/server';

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

export interface Appended {
  /** Where the reading is in the stream: for a repeat of a reading_id, where it was first stored. */
  id: string;
  /** The reading_id was stored before within the idempotency window; nothing was appended now. */
  duplicate: boolean;
}

/**
 * Appends readings to the stream. It never trims: only the processor knows what is safe to drop.
 * A reading with a reading_id goes through lua/append-once.lua, which appends it only if that id
 * (per site and device) was not stored within `idempotencyWindowS`; others are plain XADDs.
 * The connection must carry ingest's scripts (scripts.ts). Every call goes through `breaker`,
 * and is answered by `deadlineMs` after it started whatever Redis does.
 */
export class StreamWriter {
  private readonly keys: ReturnType<typeof ingestKeys>;

  constructor(
    private readonly redis: Redis,
    stream: string,
    private readonly idempotencyWindowS: number,
    private readonly breaker: RedisBreaker,
  ) {
    this.keys = ingestKeys(stream);
  }

  async append(reading: Reading, deadlineMs: number, receivedAtMs = Date.now()): Promise<Appended> {
    const [outcome] = await this.appendMany([reading], deadlineMs, receivedAtMs);
    if (outcome instanceof StoreUnavailableError) throw outcome;
    return outcome!;
  }

  /**
   * Appends many readings in one round trip. A pipeline is not atomic, so each reading gets
   * its own outcome: where it is stored, or the error that kept it out.
   */
  async appendMany(
    readings: readonly Reading[],
    deadlineMs: number,
    receivedAtMs = Date.now(),
  ): Promise<(Appended | StoreUnavailableError)[]> {
    let replies: [Error | null, unknown][];
    try {
      this.breaker.assertClosed();
      const pipeline = this.redis.pipeline();
      for (const reading of readings) this.queue(pipeline, reading, receivedAtMs);
      replies = (await withDeadline(pipeline.exec(), deadlineMs)) ?? [];
      this.breaker.record(replies.find(([err]) => err)?.[0] ?? null);
    } catch (err) {
      this.breaker.record(err);
      const failure = StoreUnavailableError.from(err, `XADD to ${this.keys.stream}`);
      return readings.map(() => failure);
    }
    return readings.map((_, i) => {
      const [err, reply] = replies[i] ?? [new Error('no reply'), null];
      if (err) return StoreUnavailableError.from(err, 'XADD');
      if (typeof reply === 'string') return { id: reply, duplicate: false };
      if (Array.isArray(reply) && typeof reply[0] === 'string') return { id: reply[0], duplicate: reply[1] === 1 };
      return new StoreUnavailableError('XADD returned no id', 'unknown');
    });
  }

  private queue(pipeline: ChainableCommander, reading: Reading, receivedAtMs: number) {
    const fields = encodeReading(reading, receivedAtMs);
    if (reading.reading_id === undefined) {
      pipeline.xadd(this.keys.stream, '*', ...fields);
      return;
    }
    const idKey = this.keys.readingId(reading.site_id, reading.device_id, reading.reading_id);
    pipeline.appendOnce(this.keys.stream, idKey, this.idempotencyWindowS, ...fields);
  }
}
