import { escapeGlob, ingestKeys, layoutKey, readGroupState, readGroups, redisKeys, type RedisClient, shardOf, scanKeys, shardStreams, siteKeys } from '@energy-pipeline/server-kit';

/**
 * Changes the number of shards of a drained pipeline, moving every site's state to its new shard.
 * The procedure (docs/deploy.md, "Changing the number of shards"):
 * 1. The layout is marked "resharding": every ingest replica refuses writes within a second
 *    (ShardMonitor), so nothing new arrives while keys move.
 * 2. Every shard must be drained (no lag, nothing pending, in every consumer group) and its dead
 *    letters handled (replayed or deleted): readings still in flight are not moved, refused instead.
 * 3. Per old shard, each site's keys move to the site's new shard: aggregates and buckets whole
 *    (DUMP, RESTORE … REPLACE, DEL), dedupe state, time zones and site lists field by field. Each
 *    step can run twice, so a tool that dies half-way is simply run again.
 * 4. The layout says the new count; services restarted with the new STREAM_SHARDS start.
 * A reading is never lost (nothing is in flight) nor counted twice (every device's dedupe state
 * moves with it, so a resend after the change is still recognised).
 */
export interface ReshardOptions {
  stream: string;
  from: number;
  to: number;
  log: (line: string) => void;
  /** How long ingest replicas get to notice the pause before the drain check. @default 3000 */
  settleMs?: number;
}

export class ReshardError extends Error {
  override name = 'ReshardError';
}

export interface ReshardReport {
  keysMoved: number;
  fieldsMoved: number;
  streamsRemoved: number;
}

export async function reshard(redis: RedisClient, { stream, from, to, log, settleMs = 3_000 }: ReshardOptions): Promise<ReshardReport> {
  const layout = layoutKey(stream);
  const [stored, marker] = await redis.hmget(layout, 'shards', 'resharding');
  const resuming = marker === `${from}:${to}`;
  if (!resuming && Number(stored ?? from) !== from) {
    throw new ReshardError(`the data is laid out in ${stored} shard(s), not ${from}`);
  }
  if (from === to) throw new ReshardError('nothing to do: the pipeline already has that many shards');
  const oldStreams = shardStreams(stream, from);
  const newStreams = shardStreams(stream, to);

  // 1. Pause writes: the layout no longer says what any running ingest writes.
  await redis.hset(layout, 'shards', 0, 'resharding', `${from}:${to}`);
  log(`writes paused (layout ${layout}); waiting ${settleMs} ms for ingest replicas to notice`);
  await new Promise((r) => setTimeout(r, settleMs));

  // 2. Nothing in flight, nothing dead-lettered; else writes resume as they were, nothing moved.
  const groups = new Map<string, string[]>();
  try {
    for (const old of oldStreams) {
      const names = await groupNames(redis, old);
      groups.set(old, names);
      for (const group of names) await assertDrained(redis, old, group);
    }
  } catch (err) {
    if (!resuming && err instanceof ReshardError) {
      await redis.hset(layout, 'shards', from);
      await redis.hdel(layout, 'resharding');
      log('writes resumed: nothing was moved');
    }
    throw err;
  }

  // 3. Move every site's state to its new shard.
  const report: ReshardReport = { keysMoved: 0, fieldsMoved: 0, streamsRemoved: 0 };
  // Every name comes from the key module: a renamed key moves with its builder.
  const streamOf = (site: string) => newStreams[shardOf(site, to)]!;
  const siteOfField = (field: string) => field.slice(0, field.indexOf('/'));
  for (const old of oldStreams) {
    report.fieldsMoved += await moveFields(redis, ingestKeys(old).dedupe, (f) => ingestKeys(streamOf(siteOfField(f))).dedupe);
    report.fieldsMoved += await moveFields(redis, siteKeys(old).zones, (f) => siteKeys(streamOf(f)).zones);
    for (const group of groups.get(old)!) {
      const oldKeys = redisKeys({ stream: old, group });
      const keysOf = (site: string) => redisKeys({ stream: streamOf(site), group });
      for (const key of await scanKeys(redis, `${escapeGlob(oldKeys.prefix)}*`)) {
        const rest = key.slice(oldKeys.prefix.length);
        const site = siteOfKey(rest);
        if (key === oldKeys.sites) {
          report.fieldsMoved += await moveSetMembers(redis, key, (site) => keysOf(site).sites);
        } else if (key === oldKeys.stats) {
          await mergeCounters(redis, key, redisKeys({ stream: newStreams[0]!, group }).stats);
        } else if (key === oldKeys.deadLetters) {
          await redis.del(key);
        } else if (site !== null) {
          await moveKey(redis, key, `${keysOf(site).prefix}${rest}`);
          report.keysMoved += 1;
        } else {
          log(`left alone, not a key of this pipeline: ${key}`);
        }
      }
    }
    if (!newStreams.includes(old)) report.streamsRemoved += await redis.del(old);
  }

  // 4. The new layout: services with STREAM_SHARDS=to start, writes resume.
  await redis.hset(layout, 'shards', to);
  await redis.hdel(layout, 'resharding');
  log(`done: ${report.keysMoved} keys and ${report.fieldsMoved} fields moved, ${report.streamsRemoved} old streams removed`);
  return report;
}

async function assertDrained(redis: RedisClient, stream: string, group: string) {
  const state = await readGroupState(redis, stream, group);
  if (state.pending > 0 || (state.lag ?? 1) > 0) {
    throw new ReshardError(`${stream} is not drained for group ${group} (lag ${state.lag}, pending ${state.pending}): let the processors finish`);
  }
  const dead = await redis.xlen(redisKeys({ stream, group }).deadLetters);
  if (dead > 0) throw new ReshardError(`${stream} has ${dead} dead letters in group ${group}: replay or delete them first`);
}

async function groupNames(redis: RedisClient, stream: string): Promise<string[]> {
  return (await readGroups(redis, stream)).map((g) => g.name);
}

/** The site a group key is about: `site:<s>`, `site-devices:<s>`, `device:<s>/<d>`, `device-<kind>:<s>/<d>:<name>`, `site-<kind>:<s>:<name>`. */
export function siteOfKey(rest: string): string | null {
  const colon = rest.indexOf(':');
  if (colon < 0) return null;
  const kind = rest.slice(0, colon);
  const tail = rest.slice(colon + 1);
  if (kind === 'site' || kind === 'site-devices') return tail;
  if (kind === 'device' || kind.startsWith('device-')) return tail.slice(0, tail.indexOf('/'));
  // A bucket's name (epoch seconds or a date) has no colon; a site id may have some.
  if (kind.startsWith('site-')) return tail.slice(0, tail.lastIndexOf(':'));
  return null;
}


/** Moves a whole key, keeping its TTL: RESTORE … REPLACE first, then DEL, so running it twice is harmless. */
async function moveKey(redis: RedisClient, from: string, to: string) {
  if (from === to) return;
  const [dump, ttl] = await Promise.all([redis.dumpBuffer(from), redis.pttl(from)]);
  if (dump === null) return;
  await redis.restore(to, Math.max(ttl, 0), dump, 'REPLACE');
  await redis.del(from);
}

/** Moves a hash's fields to the hash `target(field)` names: HSET there, then HDEL here. */
async function moveFields(redis: RedisClient, key: string, target: (field: string) => string): Promise<number> {
  let moved = 0;
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', 1000);
    for (let i = 0; i < flat.length; i += 2) {
      const to = target(flat[i]!);
      if (to === key) continue;
      await redis.hset(to, flat[i]!, flat[i + 1]!);
      await redis.hdel(key, flat[i]!);
      moved += 1;
    }
    cursor = next;
  } while (cursor !== '0');
  return moved;
}

/** Moves a score-0 sorted set's members (site ids) to the set `target(member)` names. */
async function moveSetMembers(redis: RedisClient, key: string, target: (member: string) => string): Promise<number> {
  let moved = 0;
  for (const member of await redis.zrange(key, 0, -1)) {
    const to = target(member);
    if (to === key) continue;
    await redis.zadd(to, 0, member);
    await redis.zrem(key, member);
    moved += 1;
  }
  return moved;
}

/** The counters of a group's stats hash (lua/apply-entries.lua); its other fields are markers. */
const COUNTERS = ['processed', 'invalid', 'dead_lettered', 'overflow'] as const;

/**
 * Adds a shard's counters (readings processed, invalid, dead-lettered) to the new first shard's,
 * so the group's totals carry on. A marker in the target makes a second run skip it.
 */
async function mergeCounters(redis: RedisClient, from: string, to: string) {
  if (from === to) return;
  if ((await redis.hsetnx(to, `merged:${from}`, '1')) === 0) return;
  const counters = await redis.hgetall(from);
  for (const field of COUNTERS) {
    if (counters[field] !== undefined) await redis.hincrby(to, field, Number(counters[field]));
  }
  await redis.del(from);
}
