import { BUCKET_SECONDS, type Bucket, isFixedBucket } from '@energy-pipeline/contract';
import type { RedisClient } from '@energy-pipeline/server-kit';
import { bucketStartS } from './buckets.js';
import { localPeriods } from './local-time.js';
import type { Shards } from './shards.js';
import { DEFAULT_ZONE } from './site-zones.js';

export interface SeriesQuery {
  from?: string | undefined;
  to?: string | undefined;
  bucket: Bucket;
}

/** One bucket of a series: what its keys are named after, and when it starts and how long it lasts. */
interface Slot {
  name: number | string;
  startMs: number;
  spanS: number;
  /** The date of a day or month bucket in the site's zone. */
  period?: string;
}

interface Range {
  bucket: Bucket;
  slots: Slot[];
  from: string;
  to: string;
}

/** One page of a list ordered by id: the ids after `after`, at most `limit` of them. */
export interface Page {
  after?: string | undefined;
  limit: number;
}

/** ZRANGE arguments for a page of a sorted set whose scores are all 0, in byte order of its members. */
const byLex = ({ after, limit }: Page) => [after === undefined ? '-' : `(${after}`, '+', 'BYLEX', 'LIMIT', 0, limit + 1] as const;

/** The cursor after a page read with one id more than `limit`: its last id, or null when nothing follows. */
const nextCursor = (ids: readonly string[], limit: number) => (ids.length > limit ? ids[limit - 1]! : null);

/** `items` grouped by `key(item)`, in first-seen order. */
function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** A request the query cannot answer as asked; `field` names the query parameter at fault. */
export class QueryError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Min and max are stored as the decimal texts the devices sent. */
const watts = (text: string | undefined) => (text === undefined ? null : Number(text));

/** How far back a series goes when `from` is not given, by bucket. */
const DEFAULT_SPAN_MS: Record<Bucket, number> = {
  minute: 60 * 60_000,
  hour: 60 * 3_600_000,
  day: 31 * 86_400_000,
  month: 366 * 86_400_000,
};

function powerStats(h: Record<string, string>, slot: Slot) {
  const count = Number(h.count);
  const meanW = Number(h.sum_mw) / count / 1000;
  return {
    start: new Date(slot.startMs).toISOString(),
    ...(slot.period ? { period: slot.period } : {}),
    span_s: slot.spanS,
    count,
    mean_w: meanW,
    min_w: watts(h.min_w)!,
    max_w: watts(h.max_w)!,
    energy_wh: (meanW * slot.spanS) / 3600,
  };
}

/**
 * A site's energy in one bucket over `seconds` (its span, or the part of it gone by): each device's
 * mean power in the bucket (from the `c:<id>` count and `s:<id>` sum the site bucket keeps) times
 * that time, summed over the devices; and how many devices reported.
 */
export function siteEnergy(h: Record<string, string>, seconds: number) {
  let energyWh = 0;
  let devices = 0;
  for (const [field, count] of Object.entries(h)) {
    if (!field.startsWith('c:')) continue;
    devices += 1;
    const meanW = Number(h[`s:${field.slice(2)}`]) / Number(count) / 1000;
    energyWh += (meanW * seconds) / 3600;
  }
  return { energyWh, devices };
}

/** Reads the aggregates that lua/apply-entries.lua writes, each site from its shard. */
export class Queries {
  constructor(
    private readonly redis: RedisClient,
    private readonly shards: Shards,
    /** Most buckets one series may span. */
    private readonly maxPoints: number,
  ) {}

  /**
   * The buckets covering [from, to): `to` defaults to now, `from` to an hour of minutes, 60 hours,
   * a month of days or a year of months before `to`. Days and months are the site's, in `zone`.
   */
  range(q: SeriesQuery, zone: string, nowMs = Date.now()): Range {
    const toMs = q.to ? Date.parse(q.to) : nowMs;
    const fromMs = q.from ? Date.parse(q.from) : toMs - DEFAULT_SPAN_MS[q.bucket];
    if (fromMs >= toMs) throw new QueryError('from', 'must be before `to`');
    let slots: Slot[];
    if (isFixedBucket(q.bucket)) {
      const size = BUCKET_SECONDS[q.bucket];
      const first = bucketStartS(q.bucket, fromMs);
      const count = Math.ceil((toMs / 1000 - first) / size);
      if (count > this.maxPoints) throw this.tooMany(count, q.bucket);
      slots = Array.from({ length: count }, (_, i) => ({ name: first + i * size, startMs: (first + i * size) * 1000, spanS: size }));
    } else {
      // A day is at least 23 hours and a month 28 days: bound the count before listing them.
      const atMost = Math.ceil((toMs - fromMs) / (q.bucket === 'day' ? 23 * 3_600_000 : 28 * 86_400_000)) + 1;
      if (atMost > this.maxPoints) throw this.tooMany(atMost, q.bucket);
      slots = localPeriods(q.bucket, zone, fromMs, toMs).map((p) => ({ name: p.label, startMs: p.startMs, spanS: p.spanS, period: p.label }));
    }
    return { bucket: q.bucket, slots, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() };
  }

  private tooMany(count: number, bucket: Bucket) {
    return new QueryError('from', `range spans ${count} ${bucket} buckets; at most ${this.maxPoints} are allowed`);
  }

  /**
   * One page of the sites seen, in site_id order (by UTF-8 bytes, as Redis compares them). The
   * `sites` key is a sorted set with every score 0, read with ZRANGE BYLEX … LIMIT: a page costs
   * O(log n + page) however many sites there are. With `only` (a key limited to some sites), the
   * page is taken from those sites that exist instead, in the same order.
   */
  async sites(page: Page, only: ReadonlySet<string> | null = null) {
    const ids = only ? await this.existingAmong(only, page) : await this.sitePage(page);
    const shown = ids.slice(0, page.limit);
    const counts = new Map<string, { devices: number; count: number }>();
    await Promise.all(
      [...groupBy(shown, (id) => this.shards.forSite(id))].map(async ([{ keys }, sites]) => {
        const pipeline = this.redis.pipeline();
        for (const id of sites) pipeline.zcard(keys.siteDevices(id)).hget(keys.site(id), 'count');
        const replies = await this.exec(pipeline);
        sites.forEach((id, i) => {
          counts.set(id, { devices: Number(replies[2 * i]), count: Number(replies[2 * i + 1] ?? 0) });
        });
      }),
    );
    return {
      sites: shown.map((site_id) => ({ site_id, ...counts.get(site_id)! })),
      next: nextCursor(ids, page.limit),
    };
  }

  /**
   * Up to `page.limit + 1` site ids after `page.after`, from every shard's sorted set: each shard
   * gives its own next ids, and the union is merged in the byte order Redis sorts them in.
   */
  private async sitePage(page: Page): Promise<string[]> {
    const perShard = await Promise.all(this.shards.all.map(({ keys }) => this.idPage(keys.sites, page)));
    if (perShard.length === 1) return perShard[0]!;
    return perShard
      .flat()
      .map((id) => [id, Buffer.from(id)] as const)
      .sort(([, a], [, b]) => Buffer.compare(a, b))
      .slice(0, page.limit + 1)
      .map(([id]) => id);
  }

  /** One page of a site's devices, in device_id order, as sites(); null when the site was never seen. */
  async siteDevices(siteId: string, page: Page) {
    const { keys } = this.shards.forSite(siteId);
    const key = keys.siteDevices(siteId);
    const [ids, exists] = await this.exec(this.redis.pipeline().zrange(key, ...byLex(page)).exists(key));
    if (!exists) return null;
    const shown = (ids as string[]).slice(0, page.limit);
    const pipeline = this.redis.pipeline();
    for (const id of shown) pipeline.hgetall(keys.device(siteId, id));
    const replies = (await this.exec(pipeline)) as Record<string, string>[];
    return {
      site_id: siteId,
      devices: shown.map((id, i) => this.deviceSummary(siteId, id, replies[i]!)),
      next: nextCursor(ids as string[], page.limit),
    };
  }

  /** A site's zone and counts; null when it was never seen and has no zone set. */
  async site(siteId: string) {
    const { keys, zones } = this.shards.forSite(siteId);
    const [[devices, count], zone] = await Promise.all([
      this.exec(this.redis.pipeline().zcard(keys.siteDevices(siteId)).hget(keys.site(siteId), 'count')),
      zones.stored(siteId),
    ]);
    if (!devices && zone === null) return null;
    return { site_id: siteId, time_zone: zone ?? DEFAULT_ZONE, devices: Number(devices), count: Number(count ?? 0) };
  }

  /** Null when the device was never seen. */
  async device(siteId: string, deviceId: string) {
    const h = await this.redis.hgetall(this.shards.forSite(siteId).keys.device(siteId, deviceId));
    return h.count ? this.deviceSummary(siteId, deviceId, h) : null;
  }

  async deviceSeries(siteId: string, deviceId: string, q: SeriesQuery) {
    const { keys, zones } = this.shards.forSite(siteId);
    const r = this.range(q, await zones.get(siteId));
    const buckets = await this.hashes(r.slots.map((s) => keys.deviceBucket(r.bucket, siteId, deviceId, s.name)));
    const points = r.slots.flatMap((slot, i) => (buckets[i]!.count ? [powerStats(buckets[i]!, slot)] : []));
    return { site_id: siteId, device_id: deviceId, bucket: r.bucket, from: r.from, to: r.to, points };
  }

  /**
   * A site's energy is the sum of its devices' energies (each device's mean power times the
   * bucket length), from the per-device count and sum the site bucket keeps.
   */
  async siteSeries(siteId: string, q: SeriesQuery) {
    const { keys, zones } = this.shards.forSite(siteId);
    const r = this.range(q, await zones.get(siteId));
    const buckets = await this.hashes(r.slots.map((s) => keys.siteBucket(r.bucket, siteId, s.name)));
    const points = r.slots.flatMap((slot, i) => {
      const h = buckets[i]!;
      if (!h.count) return [];
      const { energyWh, devices } = siteEnergy(h, slot.spanS);
      return [{ ...powerStats(h, slot), energy_wh: energyWh, devices }];
    });
    return { site_id: siteId, bucket: r.bucket, from: r.from, to: r.to, points };
  }

  private deviceSummary(siteId: string, deviceId: string, h: Record<string, string>) {
    const count = Number(h.count ?? 0);
    return {
      site_id: siteId,
      device_id: deviceId,
      count,
      mean_w: count ? Number(h.sum_mw) / count / 1000 : null,
      min_w: watts(h.min_w),
      max_w: watts(h.max_w),
      latest: h.latest_id
        ? { timestamp: h.latest_timestamp!, power_reading: Number(h.latest_power), stream_id: h.latest_id }
        : null,
    };
  }

  /** Up to `page.limit + 1` ids of a sorted set after `page.after`: one more than shown tells whether a next page exists. */
  private async idPage(key: string, page: Page): Promise<string[]> {
    return this.redis.zrange(key, ...byLex(page));
  }

  /** The ids in `candidates` after `page.after` that are in the `sites` set, in order, up to `page.limit + 1`. */
  private async existingAmong(candidates: ReadonlySet<string>, page: Page): Promise<string[]> {
    const after = page.after === undefined ? null : Buffer.from(page.after);
    const ordered = [...candidates]
      .map((id) => [id, Buffer.from(id)] as const)
      .filter(([, bytes]) => after === null || Buffer.compare(bytes, after) > 0)
      .sort(([, a], [, b]) => Buffer.compare(a, b))
      .map(([id]) => id);
    if (ordered.length === 0) return [];
    const seen = new Set<string>();
    await Promise.all(
      [...groupBy(ordered, (id) => this.shards.forSite(id))].map(async ([{ keys }, sites]) => {
        const scores = await this.redis.zmscore(keys.sites, ...sites);
        sites.forEach((id, i) => {
          if (scores[i] !== null) seen.add(id);
        });
      }),
    );
    return ordered.filter((id) => seen.has(id)).slice(0, page.limit + 1);
  }

  private async hashes(keys: string[]) {
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.hgetall(key);
    return (await this.exec(pipeline)) as Record<string, string>[];
  }

  private async exec(pipeline: ReturnType<RedisClient['pipeline']>) {
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }
}
