import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { decodeReading, redisKeys, type RedisKeys } from '@energy-pipeline/contract/server';

/** A stream entry as XREADGROUP returns it; fields are null when the entry was deleted. */
export type StreamEntry = [id: string, fields: string[] | null];

export interface ApplyResult {
  /** Entries whose contribution this call applied. */
  applied: number;
  /** Entries acknowledged as invalid by this call. */
  invalid: number;
  /** Entries another consumer had already acknowledged. */
  skipped: number;
}

/**
 * Applies a batch of entries in one round trip: each entry's effect and its XACK run as one
 * script, so a crash at any point leaves every entry either applied-and-acknowledged or
 * pending (to be read again), never applied twice.
 */
export class Applier {
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly group: string,
    private readonly log: FastifyBaseLogger,
    /** Called after every batch, also a partly failed one, with what it did. */
    private readonly onApplied?: (result: ApplyResult) => void,
  ) {
    this.keys = redisKeys({ stream, group });
  }

  async apply(entries: readonly StreamEntry[]): Promise<ApplyResult> {
    const result: ApplyResult = { applied: 0, invalid: 0, skipped: 0 };
    if (entries.length === 0) return result;
    const k = this.keys;
    const pipeline = this.redis.pipeline();
    const kinds: ('applied' | 'invalid')[] = [];
    for (const [id, fields] of entries) {
      const decoded = fields ? decodeReading(fields) : null;
      if (!decoded?.ok) {
        this.log.warn({ id, issues: decoded?.issues ?? 'entry deleted' }, 'invalid stream entry');
        pipeline.ackInvalid(k.stream, k.stats, this.group, id);
        kinds.push('invalid');
        continue;
      }
      const { reading, powerMw, timestampMs } = decoded.value;
      pipeline.applyReading(
        k.stream, k.stats, k.sites, k.site(reading.site_id), k.siteDevices(reading.site_id),
        k.device(reading.site_id, reading.device_id),
        this.group, id, reading.site_id, reading.device_id, powerMw, timestampMs,
        reading.timestamp, String(reading.power_reading),
      );
      kinds.push('applied');
    }
    const replies = (await pipeline.exec()) ?? [];
    let failure: Error | null = null;
    replies.forEach(([err, done], i) => {
      if (err) failure ??= err; // that entry stays pending and is read again
      else if (done === 1) result[kinds[i]!] += 1;
      else result.skipped += 1;
    });
    this.onApplied?.(result);
    if (failure) throw failure;
    return result;
  }
}
