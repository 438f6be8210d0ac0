import { redisKeys, type RedisClient, type RedisKeys, shardOf } from '@energy-pipeline/server-kit';
import { SiteZones } from './site-zones.js';

/** One shard as the query side sees it: its key names and its sites' time zones. */
export interface ShardView {
  shard: number;
  stream: string;
  keys: RedisKeys;
  zones: SiteZones;
}

/**
 * Finds the shard of a site (the same stable hash ingest writes with: shardOf), and lists them
 * all for what spans sites (the site list, the dead letters, the metrics). Everything of one
 * shard is in one slot, so each call site groups its commands per shard: a Redis Cluster refuses
 * a pipeline that spans slots.
 */
export class Shards {
  readonly all: readonly ShardView[];

  constructor(redis: RedisClient, streams: readonly string[], group: string) {
    this.all = streams.map((stream, shard) => ({ shard, stream, keys: redisKeys({ stream, group }), zones: new SiteZones(redis, stream) }));
  }

  forSite(siteId: string): ShardView {
    return this.all[shardOf(siteId, this.all.length)]!;
  }
}
