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
}
