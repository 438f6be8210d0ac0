import type { Redis } from 'ioredis';
import { BUCKET_SECONDS, type Bucket } from '@energy-pipeline/contract';
import type { RedisKeys } from '@energy-pipeline/contract/server';
import { bucketStartS } from './buckets.js';

export interface SeriesQuery {
  from?: string | undefined;
  to?: string | undefined;
  bucket: Bucket;
}

interface Range {
  bucket: Bucket;
  starts: number[];
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

function powerStats(h: Record<string, string>, start: number, bucket: Bucket) {
  const count = Number(h.count);
  const meanW = Number(h.sum_mw) / count / 1000;
  return {
    start: new Date(start * 1000).toISOString(),
    count,
    mean_w: meanW,
    min_w: watts(h.min_w)!,
    max_w: watts(h.max_w)!,
    energy_wh: (meanW * BUCKET_SECONDS[bucket]) / 3600,
  };
}

/** Reads the aggregates that lua/apply-entries.lua writes. */
export class Queries {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** Most buckets one series may span. */
    private readonly maxPoints: number,
  ) {}

  /** Bucket starts covering [from, to): `to` defaults to now, `from` to 60 buckets before `to`. */
  range(q: SeriesQuery, nowMs = Date.now()): Range {
    const size = BUCKET_SECONDS[q.bucket];
    const toMs = q.to ? Date.parse(q.to) : nowMs;
    const fromMs = q.from ? Date.parse(q.from) : toMs - 60 * size * 1000;
    if (fromMs >= toMs) throw new QueryError('from', 'must be before `to`');
    const first = bucketStartS(q.bucket, fromMs);
    const count = Math.ceil((toMs / 1000 - first) / size);
    if (count > this.maxPoints) {
      throw new QueryError('from', `range spans ${count} ${q.bucket} buckets; at most ${this.maxPoints} are allowed`);
    }
    return {
      bucket: q.bucket,
      starts: Array.from({ length: count }, (_, i) => first + i * size),
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
    };
  }

  /**
   * One page of the sites seen, in site_id order (by UTF-8 bytes, as Redis compares them). The
   * `sites` key is a sorted set with every score 0, read with ZRANGE BYLEX … LIMIT: a page costs
   * O(log n + page) however many sites there are. With `only` (a key limited to some sites), the
   * page is taken from those sites that exist instead, in the same order.
   */
  async sites(page: Page, only: ReadonlySet<string> | null = null) {
    const ids = only ? await this.existingAmong(only, page) : await this.idPage(this.keys.sites, page);
    const shown = ids.slice(0, page.limit);
    const pipeline = this.redis.pipeline();
    for (const id of shown) pipeline.zcard(this.keys.siteDevices(id)).hget(this.keys.site(id), 'count');
    const replies = await this.exec(pipeline);
    return {
      sites: shown.map((site_id, i) => ({ site_id, devices: Number(replies[2 * i]), count: Number(replies[2 * i + 1] ?? 0) })),
      next: nextCursor(ids, page.limit),
    };
  }

  /** One page of a site's devices, in device_id order, as sites(); null when the site was never seen. */
  async siteDevices(siteId: string, page: Page) {
    const key = this.keys.siteDevices(siteId);
    const [ids, exists] = await this.exec(this.redis.pipeline().zrange(key, ...byLex(page)).exists(key));
    if (!exists) return null;
    const shown = (ids as string[]).slice(0, page.limit);
    const pipeline = this.redis.pipeline();
    for (const id of shown) pipeline.hgetall(this.keys.device(siteId, id));
    const replies = (await this.exec(pipeline)) as Record<string, string>[];
    return {
      site_id: siteId,
      devices: shown.map((id, i) => this.deviceSummary(siteId, id, replies[i]!)),
      next: nextCursor(ids as string[], page.limit),
    };
  }

  /** Null when the device was never seen. */
  async device(siteId: string, deviceId: string) {
    const h = await this.redis.hgetall(this.keys.device(siteId, deviceId));
    return h.count ? this.deviceSummary(siteId, deviceId, h) : null;
  }

  async deviceSeries(siteId: string, deviceId: string, q: SeriesQuery) {
    const r = this.range(q);
    const buckets = await this.hashes(r.starts.map((s) => this.keys.deviceBucket(r.bucket, siteId, deviceId, s)));
    const points = r.starts.flatMap((start, i) => (buckets[i]!.count ? [powerStats(buckets[i]!, start, r.bucket)] : []));
    return { site_id: siteId, device_id: deviceId, bucket: r.bucket, from: r.from, to: r.to, points };
  }

  /**
   * A site's energy is the sum of its devices' energies (each device's mean power times the
   * bucket length), from the per-device count and sum the site bucket keeps.
   */
  async siteSeries(siteId: string, q: SeriesQuery) {
    const r = this.range(q);
    const buckets = await this.hashes(r.starts.map((s) => this.keys.siteBucket(r.bucket, siteId, s)));
    const points = r.starts.flatMap((start, i) => {
      const h = buckets[i]!;
      if (!h.count) return [];
      let energyWh = 0;
      let devices = 0;
      for (const [field, count] of Object.entries(h)) {
        if (!field.startsWith('c:')) continue;
        devices += 1;
        const meanW = Number(h[`s:${field.slice(2)}`]) / Number(count) / 1000;
        energyWh += (meanW * BUCKET_SECONDS[r.bucket]) / 3600;
      }
      return [{ ...powerStats(h, start, r.bucket), energy_wh: energyWh, devices }];
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
    const scores = await this.redis.zmscore(this.keys.sites, ...ordered);
    return ordered.filter((_, i) => scores[i] !== null).slice(0, page.limit + 1);
  }

  private async hashes(keys: string[]) {
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.hgetall(key);
    return (await this.exec(pipeline)) as Record<string, string>[];
  }

  private async exec(pipeline: ReturnType<Redis['pipeline']>) {
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }
}
