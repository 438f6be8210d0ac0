import type { ChainableCommander, Redis } from 'ioredis';
import type { Reading } from '@energy-pipeline/contract';
import { encodeReading, ingestKeys } from '@energy-pipeline/contract/server';

/** Redis could not take the write; the reading was not acknowledged and the client should retry. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
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
 * The connection must carry ingest's scripts (scripts.ts).
 */
export class StreamWriter {
  private readonly keys: ReturnType<typeof ingestKeys>;

  constructor(
    private readonly redis: Redis,
    stream: string,
    private readonly idempotencyWindowS: number,
  ) {
    this.keys = ingestKeys(stream);
  }

  async append(reading: Reading, receivedAtMs = Date.now()): Promise<Appended> {
    const [outcome] = await this.appendMany([reading], receivedAtMs);
    if (outcome instanceof StoreUnavailableError) throw outcome;
    return outcome!;
  }

  /**
   * Appends many readings in one round trip. A pipeline is not atomic, so each reading gets
   * its own outcome: where it is stored, or the error that kept it out.
   */
  async appendMany(readings: readonly Reading[], receivedAtMs = Date.now()): Promise<(Appended | StoreUnavailableError)[]> {
    const pipeline = this.redis.pipeline();
    for (const reading of readings) this.queue(pipeline, reading, receivedAtMs);
    let replies: [Error | null, unknown][];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch (err) {
      const failure = new StoreUnavailableError(`XADD to ${this.keys.stream} failed: ${(err as Error).message}`, { cause: err });
      return readings.map(() => failure);
    }
    return readings.map((_, i) => {
      const [err, reply] = replies[i] ?? [new Error('no reply'), null];
      if (err) return new StoreUnavailableError(`XADD failed: ${err.message}`, { cause: err });
      if (typeof reply === 'string') return { id: reply, duplicate: false };
      if (Array.isArray(reply) && typeof reply[0] === 'string') return { id: reply[0], duplicate: reply[1] === 1 };
      return new StoreUnavailableError('XADD returned no id');
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
