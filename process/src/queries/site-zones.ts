import { siteKeys, type RedisClient } from '@energy-pipeline/server-kit';

/** A site's time zone when none was set: days and months are then UTC days and months. */
export const DEFAULT_ZONE = 'UTC';

/**
 * Sites' IANA time zones (PUT /sites/:site_id), read by the apply step for every batch. They are
 * cached for `ttlMs`, so a batch costs no extra round trip once its sites are known, and a change
 * reaches every processor replica within that long.
 */
export class SiteZones {
  private readonly key: string;
  private readonly cache = new Map<string, { zone: string; until: number }>();

  constructor(
    private readonly redis: RedisClient,
    stream: string,
    /** @default 10000 */
    private readonly ttlMs = 10_000,
  ) {
    this.key = siteKeys(stream).zones;
  }

  /** The zone of each site, fetching the ones not cached (or stale) in one HMGET. */
  async zonesOf(sites: Iterable<string>): Promise<Map<string, string>> {
    const now = Date.now();
    const out = new Map<string, string>();
    const missing: string[] = [];
    for (const site of new Set(sites)) {
      const hit = this.cache.get(site);
      if (hit && hit.until > now) out.set(site, hit.zone);
      else missing.push(site);
    }
    if (missing.length > 0) {
      const zones = await this.redis.hmget(this.key, ...missing);
      missing.forEach((site, i) => {
        const zone = zones[i] ?? DEFAULT_ZONE;
        this.cache.set(site, { zone, until: now + this.ttlMs });
        out.set(site, zone);
      });
    }
    return out;
  }

  async get(site: string): Promise<string> {
    return (await this.zonesOf([site])).get(site)!;
  }

  /** The zone stored for `site`, uncached; null when none was set. */
  async stored(site: string): Promise<string | null> {
    return this.redis.hget(this.key, site);
  }

  async set(site: string, zone: string): Promise<void> {
    await this.redis.hset(this.key, site, zone);
    this.cache.set(site, { zone, until: Date.now() + this.ttlMs });
  }
}
