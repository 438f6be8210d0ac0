import { compareStreamIds } from '@energy-pipeline/contract';
import { isMissingStreamOrGroup, type RedisClient, streamSummary, xinfoRecord } from './redis.js';

/** A consumer group as XINFO GROUPS describes it, and the stream's length. */
export interface GroupState {
  /** Entries in the stream (XLEN). */
  length: number;
  /** Whether the group exists yet (the processor creates it on its first start). */
  exists: boolean;
  /** Entries not yet delivered to the group; null when Redis cannot tell (nil after some deletions). */
  lag: number | null;
  /** Entries delivered to a consumer of the group and not yet acknowledged. */
  pending: number;
  lastDeliveredId: string | null;
  /**
   * What is left for the group to do: lag plus pending. Without a group yet, the whole stream
   * (the group will start at its beginning); when the lag is unknown, pending only rather than a guess.
   */
  backlog: number;
}

/** Reads one stream's group state in one round trip (XINFO GROUPS and XLEN). */
export async function readGroupState(redis: RedisClient, stream: string, group: string): Promise<GroupState> {
  const [groups, length] = await Promise.all([
    (redis.call('XINFO', 'GROUPS', stream) as Promise<unknown[][]>).catch((err: unknown) => {
      if (isMissingStreamOrGroup(err)) return [];
      throw err;
    }),
    redis.xlen(stream),
  ]);
  const info = groups.map(xinfoRecord).find((g) => g.name === group);
  if (!info) return { length, exists: false, lag: length, pending: 0, lastDeliveredId: null, backlog: length };
  const lag = info.lag === null || info.lag === undefined ? null : Number(info.lag);
  const pending = Number(info.pending);
  return { length, exists: true, lag, pending, lastDeliveredId: String(info['last-delivered-id']), backlog: pending + (lag ?? 0) };
}

/**
 * The summary of several shards' streams as one stream named `name`: their lengths summed, the
 * earliest first entry and the latest last one.
 */
export async function streamsSummary(redis: RedisClient, streams: readonly string[], name: string) {
  const all = await Promise.all(streams.map((s) => streamSummary(redis, s)));
  const ids = (pick: (s: (typeof all)[number]) => string | null) => all.map(pick).filter((id): id is string => id !== null).sort(compareStreamIds);
  return {
    name,
    length: all.reduce((n, s) => n + s.length, 0),
    first_id: ids((s) => s.first_id)[0] ?? null,
    last_id: ids((s) => s.last_id).at(-1) ?? null,
    groups: Math.max(0, ...all.map((s) => s.groups)),
  };
}

/** How many entries `consumer` holds (delivered, not acknowledged) on `stream`; 0 without the stream or group. */
export async function consumerPending(redis: RedisClient, stream: string, group: string, consumer: string): Promise<number> {
  try {
    const summary = (await redis.call('XPENDING', stream, group)) as [number, unknown, unknown, [string, string][] | null];
    return Number(summary[3]?.find(([name]) => name === consumer)?.[1] ?? 0);
  } catch (err) {
    if (isMissingStreamOrGroup(err)) return 0;
    throw err;
  }
}
