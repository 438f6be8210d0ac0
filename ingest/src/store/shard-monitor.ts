import type { FastifyBaseLogger } from 'fastify';
import { type GroupState, layoutKey, Periodic, readGroupState, type RedisClient } from '@energy-pipeline/server-kit';

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
 * What the shards look like in Redis, read in the background every `intervalMs` so that a request
 * only looks at numbers:
 * - the consumer group's backlog on every shard (XINFO GROUPS). Writes are refused on the total
 *   (the processors read every shard), and the per-shard figures feed GET /metrics, where KEDA
 *   reads them to scale the processors on the lag of every shard;
 * - the shard layout (layout.ts). When it no longer says STREAM_SHARDS (resharding is under way,
 *   or was done while this replica ran), writes are refused: a reading written to the wrong shard
 *   would miss its device's dedupe state and be counted twice.
 */
export class ShardMonitor {
  private readonly periodic: Periodic;
  /** The last total backlog read; null until one succeeded. */
  value: number | null = null;
  /** The last per-shard figures; empty until one read succeeded. */
  shards: ShardBacklog[] = [];
  /** Why writes must wait for a shard layout that matches this replica's; null while it does. */
  layoutProblem: string | null = null;

  constructor(
    private readonly redis: RedisClient,
    /** REDIS_STREAM: the layout is recorded under its name. */
    private readonly stream: string,
    private readonly streams: readonly string[],
    private readonly group: string,
    intervalMs: number,
    private readonly log: FastifyBaseLogger,
  ) {
    this.periodic = new Periodic('shard monitor', intervalMs, () => this.refresh(), log, { immediate: true });
  }

  /** Safe to call twice. */
  start() {
    this.periodic.start();
  }

  /** Safe to call twice. */
  stop() {
    return this.periodic.stop();
  }

  async refresh(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      const [states, layout]: [GroupState[], string | null] = await Promise.all([
        Promise.all(this.streams.map((s) => readGroupState(this.redis, s, this.group))),
        this.redis.hget(layoutKey(this.stream), 'shards'),
      ]);
      const problem =
        layout === null || Number(layout) === this.streams.length
          ? null
          : `the shard layout in Redis is ${layout}, this replica writes ${this.streams.length} shard(s) (resharding?)`;
      if (problem !== this.layoutProblem) (problem ? this.log.error({ layout }, problem) : this.log.info('shard layout matches again'));
      this.layoutProblem = problem;
      this.shards = states.map((s, shard) => ({ shard, stream: this.streams[shard]!, lag: s.lag, pending: s.pending, backlog: s.backlog }));
      this.value = states.reduce((sum, s) => sum + s.backlog, 0);
    } catch (err) {
      // Keep the last value: an unreachable Redis is answered with 503 on its own.
      this.log.debug({ err: (err as Error).message }, 'backlog not read');
    }
  }
}
