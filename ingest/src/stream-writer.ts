import type { Redis } from 'ioredis';
import type { Reading, WriteOutcome } from '@energy-pipeline/contract';
import {
  classifyRedisFailure,
  encodeReading,
  ingestKeys,
  readingIdentity,
  type RedisBreaker,
  withDeadline,
} from '@energy-pipeline/contract/server';

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

const STATUS = ['stored', 'repeat', 'unverifiable'] as const;

export interface StreamWriterOptions {
  /** Gaps remembered per device and identity space (lua/append-readings.lua). @default 16 */
  dedupeMaxGaps: number;
  breaker: RedisBreaker;
}

/**
 * Appends readings to the stream through lua/append-readings.lua, which stores each reading once
 * per identity (its device's seq, or its device and timestamp) and remembers it per device. A single
 * reading becomes an entry of the seed's format; a batch becomes one entry holding all its new
 * readings, one XADD for the lot. It never trims: only the processor knows what is safe to drop.
 * Every call goes through the breaker and is answered by `deadlineMs` whatever Redis does.
 */
export class StreamWriter {
  private readonly keys: ReturnType<typeof ingestKeys>;

  constructor(
    private readonly redis: Redis,
    stream: string,
    private readonly options: StreamWriterOptions,
  ) {
    this.keys = ingestKeys(stream);
  }

  /** Appends one reading as an entry of its own. Throws StoreUnavailableError. */
  async append(reading: Reading, deadlineMs: number, receivedAtMs = Date.now()): Promise<Appended> {
    const { field, value } = readingIdentity(reading);
    const [appended] = await this.run(deadlineMs, 'single', [field, value, ...encodeReading(reading, receivedAtMs)]);
    return appended!;
  }

  /** Appends many readings as one entry, atomically: all get an outcome, or the call throws. */
  async appendBatch(readings: readonly Reading[], deadlineMs: number, receivedAtMs = Date.now()): Promise<Appended[]> {
    const args: (string | number)[] = [receivedAtMs];
    for (const reading of readings) {
      const { field, value } = readingIdentity(reading);
      args.push(field, value, JSON.stringify(reading));
    }
    return this.run(deadlineMs, 'batch', args);
  }

  private async run(deadlineMs: number, mode: 'single' | 'batch', args: (string | number)[]): Promise<Appended[]> {
    let reply: [string | null, ...number[]];
    try {
      this.options.breaker.assertClosed();
      const call = this.redis.appendReadings(this.keys.stream, this.keys.dedupe, this.options.dedupeMaxGaps, mode, ...args);
      reply = await withDeadline(call, deadlineMs);
      this.options.breaker.record(null);
    } catch (err) {
      this.options.breaker.record(err);
      throw StoreUnavailableError.from(err, `Append to ${this.keys.stream}`);
    }
    const [id, ...outcomes] = reply;
    return outcomes.map((o) => (o === 0 ? { status: 'stored', id: id! } : { status: STATUS[o] as 'repeat' | 'unverifiable' }));
  }
}
