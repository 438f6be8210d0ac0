import { BUCKET_SECONDS, type Bucket, type FixedBucket } from '@energy-pipeline/contract';
import { localPeriod } from './local-time.js';

/** How long aggregate buckets are kept after they end. */
export interface Retention {
  /** @default 604800 (7 days) */
  minuteS: number;
  /** @default 34560000 (400 days) */
  hourS: number;
  /** @default 94867200 (1098 days: three years and their leap day) */
  dayS: number;
  /** @default 316224000 (3660 days: ten years) */
  monthS: number;
}

/** Every bucket kind, in the order lua/apply-entries.lua is told them. */
export const BUCKETS: readonly Bucket[] = ['minute', 'hour', 'day', 'month'];

const retentionOf = (bucket: Bucket, r: Retention) =>
  ({ minute: r.minuteS, hour: r.hourS, day: r.dayS, month: r.monthS })[bucket];

export const bucketStartS = (bucket: FixedBucket, atMs: number) => {
  const size = BUCKET_SECONDS[bucket];
  return Math.floor(atMs / 1000 / size) * size;
};

/**
 * When a bucket's keys expire: `retention` after the bucket ends, counted from the bucket's
 * own time rather than from the write, so late readings do not keep old buckets alive.
 * Returns 0 for a bucket already past retention: the reading is not added to it at all.
 */
export function bucketExpiryS(bucket: Bucket, startS: number, spanS: number, retention: Retention, nowMs = Date.now()): number {
  const at = startS + spanS + retentionOf(bucket, retention);
  return at * 1000 > nowMs ? at : 0;
}

/** One bucket a reading falls in, as lua/apply-entries.lua takes it: [name, expiry (epoch s, 0: skip), span (s, 0: fixed)]. */
export type BucketRef = [name: number | string, expiryS: number, spanS: number];

/**
 * The buckets of every kind that a reading taken at `atMs` at a site in `zone` falls in: minutes
 * and hours named by their UTC start, days and months by their date in the site's zone.
 */
export function bucketsOf(atMs: number, zone: string, retention: Retention, nowMs = Date.now()): BucketRef[] {
  return BUCKETS.map((bucket) => {
    if (bucket === 'minute' || bucket === 'hour') {
      const start = bucketStartS(bucket, atMs);
      return [start, bucketExpiryS(bucket, start, BUCKET_SECONDS[bucket], retention, nowMs), 0];
    }
    const period = localPeriod(bucket, zone, atMs);
    return [period.label, bucketExpiryS(bucket, period.startMs / 1000, period.spanS, retention, nowMs), period.spanS];
  });
}
