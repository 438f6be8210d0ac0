import type { Bucket } from '@energy-pipeline/contract';

/**
 * Every Redis key name the pipeline uses is built here (the shard layout's in layout.ts), so
 * that ingest and process agree and one place decides the Redis Cluster layout. What each key
 * holds, who writes and reads it, and why they share their stream's hash tag:
 * DESIGN.md#redis-keys (test/docs/design.test.ts fails for a builder not described there).
 */
export interface KeyScope {
  stream: string;
  group: string;
}

/** The hash tag Redis would use for `stream`: its own `{...}` part if it has one, else the whole name. */
export function hashTag(stream: string): string {
  const open = stream.indexOf('{');
  if (open >= 0) {
    const close = stream.indexOf('}', open + 1);
    if (close > open + 1) return stream.slice(open, close + 1);
  }
  return `{${stream}}`;
}

export function redisKeys({ stream, group }: KeyScope) {
  // The group is part of the prefix: two groups on one stream are two independent consumers of it.
  const prefix = `ep:${hashTag(stream)}:${group}`;
  return {
    stream,
    /** The start of every key below but `stream`: what a reshard scans to move a group's state. */
    prefix: `${prefix}:`,
    /** Hash of counters: processed, invalid. */
    stats: `${prefix}:stats`,
    /** Sorted set of the site ids seen, every score 0: paged in id order with ZRANGE … BYLEX … LIMIT. */
    sites: `${prefix}:sites`,
    /** Hash of per-site totals. */
    site: (siteId: string) => `${prefix}:site:${siteId}`,
    /** Sorted set of the device ids seen at a site, every score 0, as `sites`. */
    siteDevices: (siteId: string) => `${prefix}:site-devices:${siteId}`,
    /** Hash of per-device totals and the latest reading; `/` cannot occur in an id. */
    device: (siteId: string, deviceId: string) => `${prefix}:device:${siteId}/${deviceId}`,
    /**
     * Hash of one device's count, sum, min and max in one bucket: a minute or hour named by its
     * start (epoch s), a day or month by its date in the site's zone (`2026-03-29`, `2026-03`),
     * with its length in `span_s`.
     */
    deviceBucket: (bucket: Bucket, siteId: string, deviceId: string, name: number | string) =>
      `${prefix}:device-${bucket}:${siteId}/${deviceId}:${name}`,
    /** Hash of one site's bucket: count, sum, min, max, and per device `c:<id>` and `s:<id>` for energy. */
    siteBucket: (bucket: Bucket, siteId: string, name: number | string) => `${prefix}:site-${bucket}:${siteId}:${name}`,
    /** Stream of entries that could not be processed, with the reason. */
    deadLetters: `${prefix}:dead-letters`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

/**
 * Keys of site settings: they belong to the stream (every group aggregates a site in its zone),
 * and carry its hash tag so the apply step's connection finds them in its slot.
 */
export function siteKeys(stream: string) {
  return {
    /** Hash of site id → IANA time zone (PUT /sites/:site_id); a site not in it is in UTC. */
    zones: `ep:${hashTag(stream)}:site-zones`,
  };
}

/**
 * Keys ingest writes beside the stream. They belong to the stream, not to a consumer group
 * (a reading is either in the stream or not, whoever reads it), and carry its hash tag so the
 * append script may touch both in one slot.
 */
export function ingestKeys(stream: string) {
  const prefix = `ep:${hashTag(stream)}`;
  return {
    stream,
    /** Hash of each device's dedupe window: a header and chunks per identity space (ingest/src/store/dedupe-format.ts; DESIGN.md#redis-keys). */
    dedupe: `${prefix}:dedupe`,
    /** String: the format `dedupe` is in, set by ingest's one-off migration (ingest/src/store/migrate-dedupe.ts). */
    dedupeFormat: `${prefix}:dedupe-format`,
    /**
     * String ingest overwrites when WRITE_REPLICAS is on and a request held only repeats: WAIT
     * speaks for this connection's writes, and the original may have come through another one.
     * Replication is in order, so replicas that have this write have the original too.
     */
    replicationMark: `${prefix}:replication-mark`,
  };
}

/**
 * The dedupe hash field of one device's identities (its identity space): a reading's identity is
 * its device's `seq` when it has one (`<site>/<device>`), else its device and timestamp
 * (`<site>/<device>@t`: one device's reading at one instant is one reading). `/` and `@` cannot
 * occur in an id.
 */
export function identitySpace(site_id: string, device_id: string, numbered: boolean): string {
  return numbered ? `${site_id}/${device_id}` : `${site_id}/${device_id}@t`;
}

/** Prefix of @fastify/rate-limit's per-key counters; independent of any stream. */
export const RATE_LIMIT_KEY_PREFIX = 'ep:rate-limit:';
