import { DateTime } from 'luxon';

/** A calendar period (a day or a month) in a site's time zone. */
export interface LocalPeriod {
  /** `2026-03-29` for a day, `2026-03` for a month: what the bucket is named after. */
  label: string;
  /** Its first instant, epoch ms: local midnight, or the first instant after a DST gap at midnight. */
  startMs: number;
  /** Its length in seconds: 23 or 25 hours on the days clocks change. */
  spanS: number;
}

export type CalendarBucket = 'day' | 'month';

// Every offset in use since 2000 is a multiple of 15 minutes, so all instants of one 15-minute slot
// fall in the same local day; caching by slot keeps luxon off the hot path (one call per slot).
const SLOT_MS = 15 * 60_000;
const cache = new Map<string, LocalPeriod>();
const CACHE_LIMIT = 50_000;

/** The day or month that contains `atMs` in `zone`. */
export function localPeriod(bucket: CalendarBucket, zone: string, atMs: number): LocalPeriod {
  const key = `${bucket} ${zone} ${Math.floor(atMs / SLOT_MS)}`;
  let period = cache.get(key);
  if (!period) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    period = compute(bucket, DateTime.fromMillis(atMs, { zone }));
    cache.set(key, period);
  }
  return period;
}

/** The periods whose start lies in [fromMs, toMs), plus the one containing fromMs, in order. */
export function localPeriods(bucket: CalendarBucket, zone: string, fromMs: number, toMs: number): LocalPeriod[] {
  const out: LocalPeriod[] = [];
  let at = DateTime.fromMillis(fromMs, { zone }).startOf(bucket);
  while (at.toMillis() < toMs) {
    out.push(compute(bucket, at));
    at = at.plus(bucket === 'day' ? { days: 1 } : { months: 1 }).startOf(bucket);
  }
  return out;
}

function compute(bucket: CalendarBucket, at: DateTime): LocalPeriod {
  const start = at.startOf(bucket);
  const end = start.plus(bucket === 'day' ? { days: 1 } : { months: 1 }).startOf(bucket);
  return {
    label: bucket === 'day' ? start.toISODate()! : start.toFormat('yyyy-MM'),
    startMs: start.toMillis(),
    spanS: (end.toMillis() - start.toMillis()) / 1000,
  };
}
