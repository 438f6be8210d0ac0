import fp from 'fastify-plugin';
import { closeRedis, createRedis, installEvictionPolicyCheck, installShardLayoutCheck, RATE_LIMIT_KEY_PREFIX, waitReady, type RedisClient } from '@energy-pipeline/server-kit';
import type { IngestConfig } from '../config/config.js';
import { RateCounts } from '../store/rate-counts.js';
import { migrateDedupe } from '../store/migrate-dedupe.js';
import { ShardMonitor } from '../store/shard-monitor.js';
import { StreamWriter } from '../store/stream-writer.js';
import { WriteBreakers } from '../store/write-breakers.js';

/** What ingest keeps in Redis, and the connections it does it on. */
export interface IngestStore {
  /** Writes, health and metrics: fails fast (no offline queue), every command bounded, auto-pipelined. */
  redis: RedisClient;
  /**
   * Rate-limit counters on their own connection, so their traffic never queues behind writes,
   * with a quarter of the write budget: a limiter that cannot count lets the request through,
   * and the write still answers within REDIS_COMMAND_TIMEOUT_MS of the request's arrival.
   */
  rateLimitRedis: RedisClient;
  /** The rate limit's counts, shared through rateLimitRedis every RATE_LIMIT_SYNC_MS (or counted there per request when that is 0). */
  rateCounts: RateCounts;
  writer: StreamWriter;
  breakers: WriteBreakers;
  /** The shards' backlog and layout, read in the background. */
  monitor: ShardMonitor;
}

declare module 'fastify' {
  interface FastifyInstance {
    ingestStore: IngestStore;
  }
}

/**
 * Ingest's Redis side as one plugin that owns its resources: the connections (timed by the
 * metrics plugin), the circuit breakers, the stream writer and the shard monitor; the start-up
 * checks (eviction policy, shard layout); and their shutdown.
 */
export const storePlugin = fp<{ config: IngestConfig }>(
  async (app, { config }) => {
    const { url, clusterNodes, commandTimeoutMs, stream, streams, group, allowEviction } = config.redis;
    const redis = app.metrics.instrumentRedis(
      // Every request's append shares this connection: auto-pipelined, the appends of one loop turn
      // go out in one write (docs/performance.md: the single-reading rows of `npm run bench:profile`).
      createRedis({ url, clusterNodes, role: 'commands', name: 'ep-ingest', commandTimeoutMs, autoPipelining: true, log: app.log }),
      'commands',
    );
    const rateLimitRedis = app.metrics.instrumentRedis(
      createRedis({ url, clusterNodes, role: 'commands', name: 'ep-ingest-rate-limit', commandTimeoutMs: Math.ceil(commandTimeoutMs / 4) }),
      'rate-limit',
    );
    const { rateLimitSyncMs: syncMs, rateLimitWindowMs: windowMs } = config.limits;
    const rateCounts = new RateCounts(rateLimitRedis, { prefix: RATE_LIMIT_KEY_PREFIX, syncMs, windowMs, log: app.log });
    const breakers = new WriteBreakers(redis, streams, app.log);
    const writer = new StreamWriter(redis, streams, { dedupe: config.dedupe, writeReplicas: config.writeReplicas, breakers });
    const monitor = new ShardMonitor(redis, stream, streams, group, config.limits.backlogCheckIntervalMs, app.log);
    app.decorate('ingestStore', { redis, rateLimitRedis, rateCounts, writer, breakers, monitor });

    // The dedupe hash in this release's format before the first write: a one-off migration, retried
    // until Redis lets it finish (until then, devices with an old-format state get 500s).
    let migrationRetry: NodeJS.Timeout | null = null;
    const migrate = async () => {
      migrationRetry = null;
      try {
        const report = await migrateDedupe(redis, streams);
        if (report.converted + report.unreadable > 0) app.log.info(report, 'dedupe state migrated to the window format');
        if (report.unreadable > 0) app.log.error(report, 'dedupe headers in no known format were left as they are');
      } catch (err) {
        app.log.warn({ err: (err as Error).message }, 'dedupe migration failed; retrying in 5 s');
        migrationRetry = setTimeout(() => void migrate(), 5_000).unref();
      }
    };
    app.addHook('onReady', async () => {
      // Start answering even when Redis is down (as 503s), but give it a moment to connect first.
      await Promise.all([waitReady(redis, 3_000), waitReady(rateLimitRedis, 3_000)]).catch(() => app.log.warn('Redis is not reachable yet'));
      await migrate();
      monitor.start();
    });
    installEvictionPolicyCheck(app, redis, allowEviction);
    installShardLayoutCheck(app, redis, stream, streams.length);
    app.addHook('onClose', async () => {
      if (migrationRetry) clearTimeout(migrationRetry);
      await monitor.stop();
      breakers.close();
      await rateCounts.close();
      await Promise.all([closeRedis(redis), closeRedis(rateLimitRedis)]);
    });
  },
  { name: 'ep-ingest-store', fastify: '5.x', dependencies: ['ep-metrics'] },
);
