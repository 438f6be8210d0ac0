import type { RedisClient } from '@energy-pipeline/server-kit';
import type { LiveReading, SiteEvent, TailEvent } from '@energy-pipeline/contract';
import { covers, formatPosition, laterOf, markOf, parsePosition, type Position } from './position.js';
import { replayShard } from './replay.js';

/** An event with its tracked id. */
export type Event<T> = { id: string; data: T };

/** Readings per event: a large batch is split, so that one event stays a few hundred kB at most. */
const MAX_EVENT_READINGS = 500;

/**
 * Readings as `readings` events of at most 500, each with the position of its last reading of
 * each shard (so that a client resuming from it gets the rest of a batch entry); advances `cursor`.
 */
export function readingEvents(readings: LiveReading[], cursor: Position): Event<SiteEvent | TailEvent>[] {
  const out: Event<SiteEvent | TailEvent>[] = [];
  for (let i = 0; i < readings.length; i += MAX_EVENT_READINGS) {
    const part = readings.slice(i, i + MAX_EVENT_READINGS);
    for (const r of part) cursor[r.shard] = markOf(r.stream_id, r.index);
    out.push({ id: formatPosition(cursor), data: { type: 'readings', readings: part } });
  }
  return out;
}

/**
 * What a reconnecting subscriber missed between `lastEventId` and `at` (the live tail's position
 * when it attached), read back from the streams of `shards`; or a `resume_gap` notice when that
 * cannot be had (trimmed, too much, or the shards changed). Returns the events, the position they
 * bring the subscriber to, and, when another replica had sent it further than this one's tail has
 * read (`skipUpTo`), what it must not be sent again.
 */
export async function resumeEvents(
  redis: RedisClient,
  streams: readonly string[],
  shards: number[],
  keep: (r: LiveReading) => boolean,
  lastEventId: string | null | undefined,
  at: Position,
  limit: number,
): Promise<{ events: Event<SiteEvent | TailEvent>[]; position: Position; skipUpTo: Position | null }> {
  const fresh = (message?: string) => ({
    events: message ? [{ id: formatPosition(at), data: { type: 'notice' as const, notice: { code: 'resume_gap' as const, message } } }] : [],
    position: at,
    skipUpTo: null,
  });
  if (!lastEventId) return fresh();
  const from = parsePosition(lastEventId, at.length);
  if (!from) return fresh('The stream shards changed since that event; starting afresh');
  const events: Event<SiteEvent | TailEvent>[] = [];
  const cursor = [...from];
  for (const shard of shards) {
    const { readings, gap } = await replayShard(redis, streams[shard]!, shard, from[shard]!, at[shard]!, keep, limit);
    if (gap) return fresh('Events after that one are no longer in the stream (it keeps LIVE_RETENTION_S); some were missed');
    events.push(...readingEvents(readings, cursor));
  }
  return { events, position: laterOf(at, from), skipUpTo: covers(at, from) ? null : from };
}
