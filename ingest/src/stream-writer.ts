import type { Redis } from 'ioredis';
import type { Reading } from '@energy-pipeline/contract';
import { encodeReading } from '@energy-pipeline/contract/server';

/** Redis could not take the write; the reading was not acknowledged and the client should retry. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/** Appends readings to the stream. It never trims: only the processor knows what is safe to drop. */
export class StreamWriter {
  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
  ) {}

  async append(reading: Reading, receivedAtMs = Date.now()): Promise<string> {
    try {
      const id = await this.redis.xadd(this.stream, '*', ...encodeReading(reading, receivedAtMs));
      if (!id) throw new Error('XADD returned no id');
      return id;
    } catch (err) {
      throw new StoreUnavailableError(`XADD to ${this.stream} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Appends many readings in one round trip. A pipeline is not atomic, so each reading gets
   * its own outcome: its stream id, or the error that kept it out.
   */
  async appendMany(readings: readonly Reading[], receivedAtMs = Date.now()): Promise<(string | StoreUnavailableError)[]> {
    const pipeline = this.redis.pipeline();
    for (const reading of readings) pipeline.xadd(this.stream, '*', ...encodeReading(reading, receivedAtMs));
    let replies: [Error | null, unknown][];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch (err) {
      const failure = new StoreUnavailableError(`XADD to ${this.stream} failed: ${(err as Error).message}`, { cause: err });
      return readings.map(() => failure);
    }
    return readings.map((_, i) => {
      const [err, id] = replies[i] ?? [new Error('no reply'), null];
      return err || typeof id !== 'string' ? new StoreUnavailableError(`XADD failed: ${err?.message ?? 'no id'}`) : id;
    });
  }
}
