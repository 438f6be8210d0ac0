import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { decodeReading, redisKeys, type RedisKeys } from '@energy-pipeline/contract/server';
import { bucketExpiryS, bucketStartS, type Retention } from './buckets.js';

/** A stream entry as XREADGROUP returns it; fields are null when the entry was deleted. */
export type StreamEntry = [id: string, fields: string[] | null];

export interface ApplyResult {
  /** Entries whose contribution this call applied. */
  applied: number;
  /** Entries this call moved to the dead-letter stream. */
  deadLettered: number;
  /** Entries another consumer had already acknowledged. */
  skipped: number;
  /** Entries whose step failed; they stay pending and are delivered again. */
  failed: string[];
}

export interface ApplierOptions {
  stream: string;
  group: string;
  /** An entry delivered more often than this goes to the dead letters instead. @default 5 */
  maxDeliveries: number;
  retention: Retention;
  log: FastifyBaseLogger;
  /** Called after every batch with what it did. */
  onApplied?: (result: ApplyResult) => void;
}

const fieldsObject = (fields: string[]) => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
};

/**
 * Applies a batch of entries in one round trip. Each entry's effect and its XACK run as one
 * script, so a crash at any point leaves every entry either applied-and-acknowledged or
 * pending (to be delivered again), never applied twice. Entries that fail validation, or that
 * were delivered more than `maxDeliveries` times, go to the dead-letter stream instead.
 */
export class Applier {
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis,
    private readonly options: ApplierOptions,
  ) {
    this.keys = redisKeys(options);
  }

  /** `deliveries` maps entry ids to their delivery counts; entries not in it were delivered once. */
  async apply(entries: readonly StreamEntry[], deliveries?: ReadonlyMap<string, number>): Promise<ApplyResult> {
    const result: ApplyResult = { applied: 0, deadLettered: 0, skipped: 0, failed: [] };
    if (entries.length === 0) return result;
    const { group, maxDeliveries } = this.options;
    const k = this.keys;
    const pipeline = this.redis.pipeline();
    const kinds: ('applied' | 'deadLettered' | 'skipped')[] = [];
    const now = Date.now();
    const deadLetter = (id: string, reason: string, detail: string, count: number, fields: string[]) => {
      pipeline.deadLetter(k.stream, k.deadLetters, k.stats, group, id, reason, detail, count, now, JSON.stringify(fieldsObject(fields)));
      kinds.push('deadLettered');
    };

    for (const [id, fields] of entries) {
      const count = deliveries?.get(id) ?? 1;
      if (!fields) {
        // Deleted from the stream while pending: nothing left to apply.
        pipeline.xack(k.stream, group, id);
        kinds.push('skipped');
        continue;
      }
      const decoded = decodeReading(fields);
      if (!decoded.ok) {
        deadLetter(id, 'invalid', JSON.stringify(decoded.issues), count, fields);
        continue;
      }
      if (count > maxDeliveries) {
        deadLetter(id, 'max_deliveries', `delivered ${count} times without being processed`, count, fields);
        continue;
      }
      const { reading, powerMw, powerText, timestampMs } = decoded.value;
      const { site_id: site, device_id: device } = reading;
      const minute = bucketStartS('minute', timestampMs);
      const hour = bucketStartS('hour', timestampMs);
      pipeline.applyReading(
        k.stream, k.stats, k.sites, k.site(site), k.siteDevices(site), k.device(site, device),
        k.deviceBucket('minute', site, device, minute), k.deviceBucket('hour', site, device, hour),
        k.siteBucket('minute', site, minute), k.siteBucket('hour', site, hour),
        group, id, site, device, powerMw, timestampMs, reading.timestamp, powerText,
        bucketExpiryS('minute', minute, this.options.retention, now), bucketExpiryS('hour', hour, this.options.retention, now),
      );
      kinds.push('applied');
    }

    const replies = (await pipeline.exec()) ?? [];
    const errors = replies.filter(([err]) => err);
    // Nothing went through: Redis is gone, not one bad entry. Let the caller back off.
    if (errors.length === replies.length) throw errors[0]![0];
    replies.forEach(([err, done], i) => {
      const [id] = entries[i]!;
      if (err) {
        result.failed.push(id);
        this.options.log.warn({ id, err: err.message }, 'entry not processed; it stays pending');
      } else if (kinds[i] === 'skipped' || done === 1) {
        result[kinds[i]!] += 1;
      } else {
        result.skipped += 1;
      }
    });
    if (result.skipped > 0) {
      // Another consumer claimed and finished them while this one held them: harmless, but a
      // sign that CLAIM_MIN_IDLE_MS is close to how long this consumer takes.
      this.options.log.info({ skipped: result.skipped }, 'entries already acknowledged by another consumer');
    }
    this.options.onApplied?.(result);
    return result;
  }
}

/** Delivery counts of `entries` held by `consumer`, from XPENDING; used when re-delivering. */
export async function deliveryCounts(
  redis: Redis,
  { stream, group }: { stream: string; group: string },
  consumer: string,
  entries: readonly StreamEntry[],
): Promise<Map<string, number>> {
  if (entries.length === 0) return new Map();
  const first = entries[0]![0];
  const last = entries[entries.length - 1]![0];
  const rows = (await redis.call('XPENDING', stream, group, first, last, entries.length, consumer)) as [string, string, number, number][];
  return new Map(rows.map(([id, , , count]) => [id, Number(count)]));
}
