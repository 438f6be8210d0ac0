/** Gaps kept per device: enough for a stable median, little memory. */
const KEPT_GAPS = 16;
/** Gaps seen live before they outvote the estimate from the hour buckets. */
const TRUSTED_GAPS = 3;

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * A device's usual time between readings. Learned from the measurement timestamps of its
 * readings as this replica sees them arrive: the median of the last 16 positive gaps, so that a
 * missed reading or a burst (a spool flushing) does not move it much. Until three gaps have been
 * seen, the estimate from its recent hour buckets stands in (seedIntervals).
 */
export class UsualInterval {
  private readonly gaps: number[] = [];
  private lastMs: number | null = null;

  constructor(
    /** The estimate from the hour buckets, in seconds; null when there is none. */
    public seededS: number | null = null,
  ) {}

  /** Notes a reading measured at `atMs`; an older or equal one (late, out of order) teaches nothing. */
  observe(atMs: number) {
    if (this.lastMs !== null && atMs > this.lastMs) {
      this.gaps.push((atMs - this.lastMs) / 1000);
      if (this.gaps.length > KEPT_GAPS) this.gaps.shift();
    }
    if (this.lastMs === null || atMs > this.lastMs) this.lastMs = atMs;
  }

  /** In seconds; null while unknown. */
  get seconds(): number | null {
    if (this.gaps.length >= TRUSTED_GAPS || (this.seededS === null && this.gaps.length > 0)) return median(this.gaps);
    return this.seededS;
  }
}

/**
 * Each device's usual interval from a site's hour buckets (oldest first), which count every
 * device's readings per hour (`c:<device>`): the time from the start of the first hour it
 * reported in to the end of the last (or now) divided by its readings. Coarse (a device that
 * started half-way through an hour looks slower than it is) but available at once; live gaps
 * replace it within a few readings. A device with fewer than two readings gets no estimate.
 */
export function seedIntervals(hours: readonly { startMs: number; spanS: number; hash: Record<string, string> }[], nowMs: number) {
  const seen = new Map<string, { firstMs: number; lastEndMs: number; count: number }>();
  for (const { startMs, spanS, hash } of hours) {
    for (const [field, value] of Object.entries(hash)) {
      if (!field.startsWith('c:')) continue;
      const device = field.slice(2);
      const s = seen.get(device) ?? { firstMs: startMs, lastEndMs: 0, count: 0 };
      s.count += Number(value);
      s.lastEndMs = Math.min(nowMs, startMs + spanS * 1000);
      seen.set(device, s);
    }
  }
  const out = new Map<string, number>();
  for (const [device, s] of seen) if (s.count >= 2) out.set(device, (s.lastEndMs - s.firstMs) / 1000 / s.count);
  return out;
}
