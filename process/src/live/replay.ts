import type { RedisClient } from '@energy-pipeline/server-kit';
import type { LiveReading } from '@energy-pipeline/contract';
import { compareMarks, entryIdOf, isAfter, markOf, type Mark, rangeStart } from './position.js';
import { decodeTailEntry } from './stream-tail.js';

/** Entries per XRANGE page of a replay. */
const PAGE = 500;

export interface Replayed {
  readings: LiveReading[];
  /** Some entries after `from` are gone from the stream (trimmed): the replay is incomplete. */
  gap: boolean;
}

/**
 * The readings of one shard stream after `from` up to and including the entry `to`, read back
 * with XRANGE a page at a time, that `keep` selects: what a client that reconnects with `from`
 * missed while the live tail went on to `to`. A `from` older than the stream's first entry is a
 * gap: the trimmer removed entries the client never got (they are kept LIVE_RETENTION_S).
 * At most `limit` readings: more means the client is too far behind to catch up this way.
 */
export async function replayShard(
  redis: RedisClient,
  stream: string,
  shard: number,
  from: Mark,
  to: Mark,
  keep: (r: LiveReading) => boolean,
  limit: number,
): Promise<Replayed> {
  const readings: LiveReading[] = [];
  const first = await redis.xrange(stream, '-', '+', 'COUNT', 1);
  const firstId = first[0]?.[0];
  const fromEntry = { ...from, ord: null };
  const gap = firstId !== undefined && from.ms + from.seq > 0n && compareMarks(markOf(firstId), fromEntry) > 0;
  if (compareMarks(from, to) >= 0) return { readings, gap };
  let start = rangeStart(from);
  const end = entryIdOf(to);
  for (;;) {
    const page = await redis.xrange(stream, start, end, 'COUNT', PAGE);
    for (const [id, fields] of page) {
      for (const r of decodeTailEntry(shard, id, fields).readings) {
        if (isAfter(from, id, r.index) && keep(r)) readings.push(r);
      }
      if (readings.length > limit) return { readings: [], gap: true };
    }
    if (page.length < PAGE) break;
    start = `(${page[page.length - 1]![0]}`;
  }
  return { readings, gap };
}
