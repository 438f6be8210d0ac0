import type { Redis } from 'ioredis';
import type { PipelineLive, PipelineShard } from '@energy-pipeline/contract';
import { readStreamStats } from '../stream-stats.js';

interface Sample {
  atMs: number;
  entriesAdded: number | null;
  entriesRead: number | null;
  processed: number;
}

const rate = (now: number | null, before: number | null | undefined, seconds: number) =>
  now === null || before === null || before === undefined || seconds <= 0 ? null : Math.round((Math.max(0, now - before) / seconds) * 10) / 10;

const sum = (values: (number | null)[]) => (values.some((v) => v === null) ? null : values.reduce<number>((a, v) => a + v!, 0));

/**
 * The pipeline's figures, read once per interval per process for every subscriber: per shard,
 * the stream length, the group's lag, pending entries and consumers, the dead letters, and rates
 * from the differences between two reads of monotonic counters: XINFO STREAM's entries-added
 * (ingest), the group's entries-read (delivered to the consumers), and the stats hash's
 * `processed` (readings applied).
 */
export class PipelineFeed {
  private last: Sample[] = [];

  constructor(
    private readonly redis: Redis,
    /** The shard streams, in shard order. */
    private readonly streams: readonly string[],
    private readonly group: string,
  ) {}

  async read(nowMs = Date.now()): Promise<PipelineLive> {
    let stats: Awaited<ReturnType<typeof readStreamStats>>[];
    try {
      stats = await Promise.all(this.streams.map((stream) => readStreamStats(this.redis, { stream, group: this.group })));
    } catch {
      this.last = [];
      return { at: new Date(nowMs).toISOString(), group: this.group, redis: 'down', shards: [], totals: emptyTotals };
    }
    const samples: Sample[] = stats.map((s) => ({ atMs: nowMs, ...s.counters, processed: s.totals.total }));
    const shards = stats.map((s, shard): PipelineShard => {
      const before = this.last[shard];
      const seconds = before ? (nowMs - before.atMs) / 1000 : 0;
      const now = samples[shard]!;
      return {
        shard,
        stream: s.stream.name,
        length: s.stream.length,
        lag: s.group.lag,
        pending: s.group.pending,
        ingest_entries_per_s: rate(now.entriesAdded, before?.entriesAdded, seconds),
        read_entries_per_s: rate(now.entriesRead, before?.entriesRead, seconds),
        applied_readings_per_s: rate(now.processed, before?.processed, seconds),
        processed: s.totals.total,
        dead_letters: s.deadLetters.length,
        consumers: s.group.consumers,
      };
    });
    this.last = samples;
    return {
      at: new Date(nowMs).toISOString(),
      group: this.group,
      redis: 'up',
      shards,
      totals: {
        lag: sum(shards.map((s) => s.lag)),
        pending: shards.reduce((a, s) => a + s.pending, 0),
        ingest_entries_per_s: sum(shards.map((s) => s.ingest_entries_per_s)),
        read_entries_per_s: sum(shards.map((s) => s.read_entries_per_s)),
        applied_readings_per_s: sum(shards.map((s) => s.applied_readings_per_s)),
        dead_letters: shards.reduce((a, s) => a + s.dead_letters, 0),
      },
    };
  }
}

const emptyTotals = {
  lag: null,
  pending: 0,
  ingest_entries_per_s: null,
  read_entries_per_s: null,
  applied_readings_per_s: null,
  dead_letters: 0,
};
