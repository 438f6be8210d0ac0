import type { LiveEnergy } from '@energy-pipeline/contract';
import type { RedisClient } from '@energy-pipeline/server-kit';
import { bucketStartS } from '../queries/buckets.js';
import { localPeriod } from '../queries/local-time.js';
import { siteEnergy } from '../queries/queries.js';
import type { ShardView } from '../queries/shards.js';
import { round3, type SiteFeed } from './site-feed.js';
import { seedIntervals } from './usual-interval.js';

/** Most devices of one site the live view loads at first (more show up as they report). */
const MAX_LOADED_DEVICES = 2_000;
/** Hour buckets read to estimate devices' usual intervals at first. */
const SEED_HOURS = 24;

async function exec(pipeline: ReturnType<RedisClient['pipeline']>) {
  return ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/**
 * Reads what a site's live view starts from: its zone, each device's latest reading (the device
 * hashes), and the devices' usual intervals as the last day's hour buckets suggest. One ZRANGE
 * and one pipelined round trip.
 */
export async function loadSite(redis: RedisClient, { keys, zones }: ShardView, feed: SiteFeed, nowMs = Date.now()) {
  const [zone, ids] = await Promise.all([
    zones.get(feed.siteId),
    redis.zrange(keys.siteDevices(feed.siteId), 0, MAX_LOADED_DEVICES - 1),
  ]);
  feed.zone = zone;
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(keys.device(feed.siteId, id), 'latest_power', 'latest_timestamp', 'latest_id');
  const thisHour = bucketStartS('hour', nowMs);
  const hours = Array.from({ length: SEED_HOURS }, (_, i) => thisHour - (SEED_HOURS - 1 - i) * 3600);
  for (const start of hours) pipeline.hgetall(keys.siteBucket('hour', feed.siteId, start));
  const replies = await exec(pipeline);
  const seeds = seedIntervals(
    hours.map((start, i) => ({ startMs: start * 1000, spanS: 3600, hash: replies[ids.length + i] as Record<string, string> })),
    nowMs,
  );
  ids.forEach((id, i) => {
    const [power, timestamp, latestId] = replies[i] as (string | null)[];
    feed.seedDevice(id, { latest_power: power!, latest_timestamp: timestamp!, latest_id: latestId! }, seeds.get(id) ?? null);
  });
}

/**
 * Re-reads the energy of the current minute, hour and local day of every site given, in one
 * pipelined round trip per shard (three HGETALLs a site; a Redis Cluster refuses a pipeline that
 * spans slots, and each shard is one slot). The figure is energy so far: each device's mean
 * power in the bucket times the part of the bucket gone by.
 */
export async function refreshEnergy(redis: RedisClient, viewOf: (feed: SiteFeed) => ShardView, feeds: SiteFeed[], nowMs = Date.now()) {
  const byShard = new Map<ShardView, SiteFeed[]>();
  for (const feed of feeds) {
    const view = viewOf(feed);
    byShard.set(view, [...(byShard.get(view) ?? []), feed]);
  }
  await Promise.all([...byShard].map(([view, shardFeeds]) => refreshShard(redis, view, shardFeeds, nowMs)));
}

async function refreshShard(redis: RedisClient, { keys, zones }: ShardView, feeds: SiteFeed[], nowMs: number) {
  const zoneOf = await zones.zonesOf(feeds.map((f) => f.siteId));
  const pipeline = redis.pipeline();
  const slots = feeds.map((feed) => {
    feed.zone = zoneOf.get(feed.siteId) ?? feed.zone;
    const minute = bucketStartS('minute', nowMs);
    const hour = bucketStartS('hour', nowMs);
    const day = localPeriod('day', feed.zone, nowMs);
    pipeline.hgetall(keys.siteBucket('minute', feed.siteId, minute));
    pipeline.hgetall(keys.siteBucket('hour', feed.siteId, hour));
    pipeline.hgetall(keys.siteBucket('day', feed.siteId, day.label));
    return [
      { startMs: minute * 1000, spanS: 60 },
      { startMs: hour * 1000, spanS: 3600 },
      { startMs: day.startMs, spanS: day.spanS, period: day.label },
    ];
  });
  const replies = (await exec(pipeline)) as Record<string, string>[];
  feeds.forEach((feed, i) => {
    const [minute, hour, day] = slots[i]!.map((slot, j): LiveEnergy => {
      const h = replies[3 * i + j]!;
      const elapsedS = Math.min(slot.spanS, Math.max(0, Math.floor((nowMs - slot.startMs) / 1000)));
      return {
        start: new Date(slot.startMs).toISOString(),
        ...('period' in slot ? { period: slot.period } : {}),
        span_s: slot.spanS,
        elapsed_s: elapsedS,
        energy_wh: round3(siteEnergy(h, elapsedS).energyWh),
        count: Number(h.count ?? 0),
      };
    });
    feed.energy = { minute: minute!, hour: hour!, day: day! };
  });
}
