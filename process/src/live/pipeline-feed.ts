import type { RedisClient } from '@energy-pipeline/server-kit';
import type { PipelineLive, PipelineShard } from '@energy-pipeline/contract';
import { readStreamStats } from '../queries/stream-stats.js';

interface Sample {
  atMs: number;
  entriesAdded: number | null;
  entriesRead: number | null;
  applied: number;
}

const rate = (now: number | null, before: number | null | undefined, seconds: number) =>
  now === null || before === null || before === undefined || seconds <= 0 ? null : Math.round((Math.max(0, now - before) / seconds) * 10) / 10;

const sum = (values: (number | null)[]) => (values.some((v) => v === null) ? null : values.reduce<number>((a, v) => a + v!, 0));

/** Rates are taken over about this long: devices report in bursts, and a per-second rate would flicker to 0. */
const RATE_WINDOW_MS = 10_000;

/**
 * The pipeline's figures, read once per interval per process for every subscriber: per shard,
 * the stream length, the group's lag, pending entries and consumers, the dead letters, and rates
 * over the last 10 s from monotonic counters: XINFO STREAM's entries-added (ingest), the group's
 * entries-read (delivered to the consumers), and the stats hash's `processed` (readings applied).
 */
export class PipelineFeed {
  /** Per shard, the samples of the rate window, oldest first. */
  private history: Sample[][] = [];

  constructor(
    private readonly redis: RedisClient,
    /** The shard streams, in shard order. */
    private readonly streams: readonly string[],
    private readonly group: string,
  ) {}

  async read(nowMs = Date.now()): Promise<PipelineLive> {
    let stats: Awaited<ReturnType<typeof readStreamStats>>[];
    try {
      stats = await Promise.all(this.streams.map((stream) => readStreamStats(this.redis, { stream, group: this.group })));
    } catch {
      this.history = [];
      return { at: new Date(nowMs).toISOString(), group: this.group, redis: 'down', shards: [], totals: emptyTotals };
    }
    const shards = stats.map((s, shard): PipelineShard => {
      const now: Sample = { atMs: nowMs, ...s.counters, applied: s.totals.applied };
      const kept = this.history[shard] ?? [];
      this.history[shard] = kept;
      kept.push(now);
      // Keep one sample at least as old as the window: the base the rates are measured from.
      while (kept.length > 2 && kept[1]!.atMs <= nowMs - RATE_WINDOW_MS) kept.shift();
      const before = kept.length > 1 ? kept[0] : undefined;
      const seconds = before ? (nowMs - before.atMs) / 1000 : 0;
      return {
        shard,
        stream: s.stream.name,
        length: s.stream.length,
        lag: s.group.lag,
        pending: s.group.pending,
        ingest_entries_per_s: rate(now.entriesAdded, before?.entriesAdded, seconds),
        read_entries_per_s: rate(now.entriesRead, before?.entriesRead, seconds),
        applied_readings_per_s: rate(now.applied, before?.applied, seconds),
        applied: s.totals.applied,
        dead_letters: s.deadLetters.length,
        consumers: s.group.consumers,
      };
    });
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
