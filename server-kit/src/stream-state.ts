import { compareStreamIds } from '@energy-pipeline/contract';
import type { RedisClient } from './redis.js';

/**
 * Stream and consumer-group state from XINFO and XPENDING, parsed here and nowhere else: every
 * reader of lag, pending or consumers (ingest's backlog, the processor's health and metrics, the
 * claimer, the live pipeline view, resharding, the bench) goes through these functions.
 */

/** XINFO replies come as flat [field, value, field, value…] lists. */
export function xinfoRecord(reply: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
  return out;
}

/** The error XINFO, XPENDING and friends give for a stream or group that does not exist (yet). */
export const isMissingStreamOrGroup = (err: unknown) => err instanceof Error && /NOGROUP|no such key/i.test(err.message);

/** `fallback` when the stream or group does not exist yet; any other error is thrown. */
async function orMissing<T>(read: Promise<T>, fallback: T): Promise<T> {
  try {
    return await read;
  } catch (err) {
    if (isMissingStreamOrGroup(err)) return fallback;
    throw err;
  }
}

const count = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** A stream as XINFO STREAM describes it; a missing stream is an empty one. */
export interface StreamInfo {
  name: string;
  length: number;
  firstId: string | null;
  lastId: string | null;
  groups: number;
  /** Every entry ever added (Redis 7's entries-added; null before): a monotonic counter for rates. */
  entriesAdded: number | null;
}

export async function readStreamInfo(redis: RedisClient, stream: string): Promise<StreamInfo> {
  const empty: StreamInfo = { name: stream, length: 0, firstId: null, lastId: null, groups: 0, entriesAdded: 0 };
  const reply = await orMissing(redis.call('XINFO', 'STREAM', stream) as Promise<unknown[] | null>, null);
  if (!reply) return empty;
  const info = xinfoRecord(reply);
  return {
    name: stream,
    length: Number(info.length),
    firstId: (info['first-entry'] as [string, unknown] | null)?.[0] ?? null,
    lastId: (info['last-entry'] as [string, unknown] | null)?.[0] ?? null,
    groups: Number(info.groups),
    entriesAdded: count(info['entries-added']),
  };
}

/** The wire summary of a stream (the `stream` part of both services' GET /metrics). */
export async function streamSummary(redis: RedisClient, stream: string) {
  return summaryOf(await readStreamInfo(redis, stream));
}

function summaryOf(s: StreamInfo) {
  return { name: s.name, length: s.length, first_id: s.firstId, last_id: s.lastId, groups: s.groups };
}

/**
 * The summary of several shards' streams as one stream named `name`: their lengths summed, the
 * earliest first entry and the latest last one.
 */
export async function streamsSummary(redis: RedisClient, streams: readonly string[], name: string) {
  const all = await Promise.all(streams.map((s) => readStreamInfo(redis, s)));
  const ids = (pick: (s: StreamInfo) => string | null) => all.map(pick).filter((id): id is string => id !== null).sort(compareStreamIds);
  return summaryOf({
    name,
    length: all.reduce((n, s) => n + s.length, 0),
    firstId: ids((s) => s.firstId)[0] ?? null,
    lastId: ids((s) => s.lastId).at(-1) ?? null,
    groups: Math.max(0, ...all.map((s) => s.groups)),
    entriesAdded: null,
  });
}

/** One consumer group, as XINFO GROUPS describes it. */
export interface GroupInfo {
  name: string;
  consumers: number;
  /** Entries delivered to a consumer and not yet acknowledged. */
  pending: number;
  lastDeliveredId: string;
  /** Entries the group has read (Redis 7; null before): a monotonic counter for rates. */
  entriesRead: number | null;
  /** Entries not yet delivered; null when Redis cannot tell (nil after some deletions) or before Redis 7. */
  lag: number | null;
}

/** Every group of `stream`; none for a missing stream. */
export async function readGroups(redis: RedisClient, stream: string): Promise<GroupInfo[]> {
  const replies = await orMissing(redis.call('XINFO', 'GROUPS', stream) as Promise<unknown[][]>, []);
  return replies.map(xinfoRecord).map((g) => ({
    name: String(g.name),
    consumers: Number(g.consumers),
    pending: Number(g.pending),
    lastDeliveredId: String(g['last-delivered-id']),
    entriesRead: count(g['entries-read']),
    lag: count(g.lag),
  }));
}

/** One consumer of a group, as XINFO CONSUMERS describes it. */
export interface ConsumerInfo {
  name: string;
  pending: number;
  /** Since its last attempted interaction (a read, even an empty one). */
  idleMs: number;
  /** Since its last successful interaction (Redis 7.2's inactive; null before). */
  inactiveMs: number | null;
}

export async function readConsumers(redis: RedisClient, stream: string, group: string): Promise<ConsumerInfo[]> {
  const replies = await orMissing(redis.call('XINFO', 'CONSUMERS', stream, group) as Promise<unknown[][]>, []);
  return replies.map(xinfoRecord).map((c) => ({
    name: String(c.name),
    pending: Number(c.pending),
    idleMs: Number(c.idle),
    inactiveMs: count(c.inactive),
  }));
}

/** XPENDING's summary form: how many entries are pending, the oldest and newest, and who holds them. */
export interface PendingSummary {
  count: number;
  oldestId: string | null;
  newestId: string | null;
  byConsumer: Map<string, number>;
}

export async function readPendingSummary(redis: RedisClient, stream: string, group: string): Promise<PendingSummary> {
  type Reply = [number, string | null, string | null, [string, string][] | null];
  const [n, oldest, newest, holders] = await orMissing(redis.call('XPENDING', stream, group) as Promise<Reply>, [0, null, null, null]);
  return { count: Number(n), oldestId: oldest, newestId: newest, byConsumer: new Map((holders ?? []).map(([name, held]) => [name, Number(held)])) };
}

/** A consumer group's state on one stream, as the backlog checks need it. */
export interface GroupState {
  /** Entries in the stream (XLEN). */
  length: number;
  /** Whether the group exists yet (the processor creates it on its first start). */
  exists: boolean;
  /** Entries not yet delivered to the group; null when Redis cannot tell. */
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
  const [groups, length] = await Promise.all([readGroups(redis, stream), redis.xlen(stream)]);
  const info = groups.find((g) => g.name === group);
  if (!info) return { length, exists: false, lag: length, pending: 0, lastDeliveredId: null, backlog: length };
  return { length, exists: true, lag: info.lag, pending: info.pending, lastDeliveredId: info.lastDeliveredId, backlog: info.pending + (info.lag ?? 0) };
}
