import { BUCKET_SECONDS, type Bucket } from '@energy-pipeline/contract';

/** How long aggregate buckets are kept after they end. */
export interface Retention {
  /** @default 604800 (7 days) */
  minuteS: number;
  /** @default 34560000 (400 days) */
  hourS: number;
}

export const bucketStartS = (bucket: Bucket, atMs: number) => {
  const size = BUCKET_SECONDS[bucket];
  return Math.floor(atMs / 1000 / size) * size;
};

/**
 * When a bucket's keys expire: `retention` after the bucket ends, counted from the bucket's
 * own time rather than from the write, so late readings do not keep old buckets alive.
 * Returns 0 for a bucket already past retention: the reading is not added to it at all.
 */
export function bucketExpiryS(bucket: Bucket, startS: number, retention: Retention, nowMs = Date.now()): number {
  const at = startS + BUCKET_SECONDS[bucket] + (bucket === 'minute' ? retention.minuteS : retention.hourS);
  return at * 1000 > nowMs ? at : 0;
}
