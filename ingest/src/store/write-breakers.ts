import { Cluster } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { type BreakerOptions, RedisBreaker, type RedisClient } from '@energy-pipeline/server-kit';

/**
 * The circuit breakers writes go through, one per failure domain. On a single Redis every shard
 * is on the one server, so one breaker guards them all. On a Redis Cluster each shard has its own,
 * probed with a command on its stream (routed to the node that owns it): a master that stops
 * answering, or fails over, opens only its own shards' circuits while the other nodes keep taking
 * writes.
 */
export class WriteBreakers {
  private readonly breakers: RedisBreaker[];

  constructor(redis: RedisClient, streams: readonly string[], log: FastifyBaseLogger, options: BreakerOptions = {}) {
    const report = (what: string) => (open: boolean) =>
      open ? log.error(`Redis is not answering${what}: writes get 503 at once until it does`) : log.info(`Redis answers again${what}`);
    this.breakers =
      redis instanceof Cluster
        ? streams.map((stream, shard) => new RedisBreaker(() => redis.exists(stream), options, report(` for shard ${shard} (${stream})`)))
        : [new RedisBreaker(() => redis.ping(), options, report(''))];
  }

  /** The breaker of `shard`'s writes. */
  of(shard: number): RedisBreaker {
    return this.breakers[this.breakers.length === 1 ? 0 : shard]!;
  }

  /** Some shard's circuit is open: some writes get 503 at once (ep_redis_up 0). */
  get anyOpen(): boolean {
    return this.breakers.some((b) => b.open);
  }

  /** Every circuit is open: no write can succeed, so none is attempted. */
  get allOpen(): boolean {
    return this.breakers.every((b) => b.open);
  }

  close() {
    for (const b of this.breakers) b.close();
  }
}
