import { compareStreamIds } from '@energy-pipeline/contract';
import { readConsumers, readGroups, readPendingSummary, readStreamInfo, redisKeys, type RedisClient } from '@energy-pipeline/server-kit';

/** The group's view of the stream from XINFO STREAM, XINFO GROUPS, XINFO CONSUMERS and XPENDING. */
export async function readStreamStats(redis: RedisClient, { stream, group }: { stream: string; group: string }) {
  const keys = redisKeys({ stream, group });
  const [info, groups, stats, deadLetterLength] = await Promise.all([
    readStreamInfo(redis, stream),
    readGroups(redis, stream),
    redis.hgetall(keys.stats),
    redis.xlen(keys.deadLetters),
  ]);
  const g = groups.find((x) => x.name === group);
  const [consumers, pending] = g
    ? await Promise.all([readConsumers(redis, stream, group), readPendingSummary(redis, stream, group)])
    : [[], null];
  return {
    stream: { name: info.name, length: info.length, first_id: info.firstId, last_id: info.lastId, groups: info.groups },
    group: {
      name: group,
      exists: g !== undefined,
      consumers: consumers.map((c) => ({ name: c.name, pending: c.pending, idle_ms: c.idleMs })),
      pending: g?.pending ?? 0,
      lag: g ? g.lag : info.length,
      last_delivered_id: g?.lastDeliveredId ?? null,
      oldest_pending_id: pending?.oldestId ?? null,
    },
    // The stats hash's names predate the error codes (`processed` is applied, `invalid` is
    // validation_failed); kept so that stored counts carry on.
    totals: {
      applied: Number(stats.processed ?? 0),
      validation_failed: Number(stats.invalid ?? 0),
      dead_lettered: Number(stats.dead_lettered ?? 0),
    },
    deadLetters: { stream: keys.deadLetters, length: deadLetterLength },
    /** Monotonic counters for rates (Redis 7; null before): entries added to the stream, and read by the group. */
    counters: { entriesAdded: info.entriesAdded, entriesRead: g?.entriesRead ?? null },
  };
}

export type StreamStats = Awaited<ReturnType<typeof readStreamStats>>;

/**
 * Every shard's stats, and all of them as one: lengths, lag, pending and totals summed (the lag
 * unknown when any shard's is), consumers merged by name, the ends of the id ranges kept.
 */
export async function readShardedStats(redis: RedisClient, streams: readonly string[], group: string, name: string) {
  const shards = await Promise.all(streams.map((stream) => readStreamStats(redis, { stream, group })));
  if (shards.length === 1) return { combined: shards[0]!, shards };
  const sum = (pick: (s: StreamStats) => number) => shards.reduce((n, s) => n + pick(s), 0);
  const ids = (pick: (s: StreamStats) => string | null) =>
    shards.map(pick).filter((id): id is string => id !== null).sort(compareStreamIds);
  // A counter is known for all shards or for none (Redis 6 reports neither).
  const counter = (pick: (s: StreamStats) => number | null) => (shards.some((s) => pick(s) === null) ? null : sum((s) => pick(s)!));
  const consumers = new Map<string, { name: string; pending: number; idle_ms: number }>();
  for (const c of shards.flatMap((s) => s.group.consumers)) {
    const seen = consumers.get(c.name);
    consumers.set(c.name, seen ? { name: c.name, pending: seen.pending + c.pending, idle_ms: Math.min(seen.idle_ms, c.idle_ms) } : { ...c });
  }
  const combined: StreamStats = {
    stream: {
      name,
      length: sum((s) => s.stream.length),
      first_id: ids((s) => s.stream.first_id)[0] ?? null,
      last_id: ids((s) => s.stream.last_id).at(-1) ?? null,
      groups: Math.max(...shards.map((s) => s.stream.groups)),
    },
    group: {
      name: group,
      exists: shards.every((s) => s.group.exists),
      consumers: [...consumers.values()],
      pending: sum((s) => s.group.pending),
      lag: shards.some((s) => s.group.lag === null) ? null : sum((s) => s.group.lag!),
      last_delivered_id: ids((s) => s.group.last_delivered_id).at(-1) ?? null,
      oldest_pending_id: ids((s) => s.group.oldest_pending_id)[0] ?? null,
    },
    totals: {
      applied: sum((s) => s.totals.applied),
      validation_failed: sum((s) => s.totals.validation_failed),
      dead_lettered: sum((s) => s.totals.dead_lettered),
    },
    deadLetters: { stream: shards.map((s) => s.deadLetters.stream).join(', '), length: sum((s) => s.deadLetters.length) },
    counters: {
      entriesAdded: counter((s) => s.counters.entriesAdded),
      entriesRead: counter((s) => s.counters.entriesRead),
    },
  };
  return { combined, shards };
}
