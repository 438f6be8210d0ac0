import type { Redis } from 'ioredis';
import { isMissingStreamOrGroup, redisKeys, streamInfo, xinfoRecord } from '@energy-pipeline/contract/server';
import type { ConsumerConfig } from './config.js';

/** The group's view of the stream from XINFO STREAM, XINFO GROUPS, XINFO CONSUMERS and XPENDING. */
export async function readStreamStats(redis: Redis, { stream, group }: Pick<ConsumerConfig, 'stream' | 'group'>) {
  const keys = redisKeys({ stream, group });
  const [{ summary, entriesAdded }, groups, stats, deadLetterLength] = await Promise.all([
    streamInfo(redis, stream),
    (redis.call('XINFO', 'GROUPS', stream) as Promise<unknown[][]>).catch((err) => {
      if (isMissingStreamOrGroup(err)) return [];
      throw err;
    }),
    redis.hgetall(keys.stats),
    redis.xlen(keys.deadLetters),
  ]);
  const info = groups.map(xinfoRecord).find((g) => g.name === group);
  let consumers: { name: string; pending: number; idle_ms: number }[] = [];
  let oldestPending: string | null = null;
  if (info) {
    const [consumerReplies, pendingSummary] = await Promise.all([
      redis.call('XINFO', 'CONSUMERS', stream, group) as Promise<unknown[][]>,
      redis.call('XPENDING', stream, group) as Promise<[number, string | null, string | null, unknown]>,
    ]);
    consumers = consumerReplies.map(xinfoRecord).map((c) => ({
      name: String(c.name),
      pending: Number(c.pending),
      idle_ms: Number(c.idle),
    }));
    oldestPending = pendingSummary[1] ?? null;
  }
  return {
    stream: summary,
    group: {
      name: group,
      exists: info !== undefined,
      consumers,
      pending: info ? Number(info.pending) : 0,
      // Redis reports lag as nil when it cannot compute it (e.g. after deletions).
      lag: info ? (info.lag === null || info.lag === undefined ? null : Number(info.lag)) : summary.length,
      last_delivered_id: info ? String(info['last-delivered-id']) : null,
      oldest_pending_id: oldestPending,
    },
    totals: {
      total: Number(stats.processed ?? 0),
      invalid: Number(stats.invalid ?? 0),
      dead_lettered: Number(stats.dead_lettered ?? 0),
    },
    deadLetters: { stream: keys.deadLetters, length: deadLetterLength },
    /** Monotonic counters for rates (Redis 7; null before): entries added to the stream, and read by the group. */
    counters: {
      entriesAdded,
      entriesRead: info?.['entries-read'] === undefined || info['entries-read'] === null ? null : Number(info['entries-read']),
    },
  };
}
