import type { FastifyBaseLogger } from 'fastify';
import { type GroupState, readGroupState, type RedisClient } from '@energy-pipeline/contract/server';

/** One shard's backlog as last read. */
export interface ShardBacklog {
  shard: number;
  stream: string;
  /** Entries not yet delivered to the group; null when Redis cannot tell. */
  lag: number | null;
  pending: number;
  /** lag + pending (GroupState.backlog). */
  backlog: number;
}

/**
 * The consumer group's backlog on every shard, read from XINFO GROUPS in the background every
 * `intervalMs` so that a request only looks at a number. Writes are refused on the total (the
 * processors read every shard), and the per-shard figures feed GET /metrics, where KEDA reads
 * them to scale the processors on the lag of every shard.
 */
export class BacklogMonitor {
  private timer: NodeJS.Timeout | null = null;
  /** The last total read; null until one succeeded. */
  value: number | null = null;
  /** The last per-shard figures; empty until one read succeeded. */
  shards: ShardBacklog[] = [];

  constructor(
    private readonly redis: RedisClient,
    private readonly streams: readonly string[],
    private readonly group: string,
    private readonly intervalMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Safe to call twice. */
  start() {
    if (this.timer) return;
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.refresh().finally(() => {
          if (this.timer) tick();
        });
      }, this.intervalMs);
      this.timer.unref();
    };
    tick();
    void this.refresh();
  }

  /** Safe to call twice. */
  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  async refresh(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      const states: GroupState[] = await Promise.all(this.streams.map((s) => readGroupState(this.redis, s, this.group)));
      this.shards = states.map((s, shard) => ({ shard, stream: this.streams[shard]!, lag: s.lag, pending: s.pending, backlog: s.backlog }));
      this.value = states.reduce((sum, s) => sum + s.backlog, 0);
    } catch (err) {
      // Keep the last value: an unreachable Redis is answered with 503 on its own.
      this.log.debug({ err: (err as Error).message }, 'backlog not read');
    }
  }
}
