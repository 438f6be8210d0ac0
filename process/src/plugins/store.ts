import fp from 'fastify-plugin';
import { closeRedis, createRedis, installEvictionPolicyCheck, installShardLayoutCheck, waitReady, type RedisClient } from '@energy-pipeline/server-kit';
import type { ProcessConfig } from '../config/config.js';
import { DeadLetters } from '../queries/dead-letters.js';
import { Queries } from '../queries/queries.js';
import { Shards } from '../queries/shards.js';

/** What the processor's API reads from Redis, and the connection it reads on. */
export interface ProcessStore {
  /** The API's own connection: a slow query never delays the worker's acknowledgements. */
  redis: RedisClient;
  shards: Shards;
  queries: Queries;
  deadLetters: DeadLetters;
}

declare module 'fastify' {
  interface FastifyInstance {
    processStore: ProcessStore;
  }
}

/** The API's Redis side as one plugin that owns its connection: queries, dead letters, start-up checks, shutdown. */
export const storePlugin = fp<{ config: ProcessConfig }>(
  async (app, { config }) => {
    const { url, clusterNodes, commandTimeoutMs, stream, streams, allowEviction } = config.redis;
    const redis = app.metrics.instrumentRedis(
      createRedis({ url, clusterNodes, role: 'commands', name: `ep-process-${config.consumer.name}-api`, commandTimeoutMs }),
      'api',
    );
    const shards = new Shards(redis, streams, config.consumer.group);
    app.decorate('processStore', { redis, shards, queries: new Queries(redis, shards, config.queryMaxPoints), deadLetters: new DeadLetters(redis, shards) });
    app.addHook('onReady', async () => {
      await waitReady(redis, 3_000).catch(() => app.log.warn('Redis is not reachable yet'));
    });
    installEvictionPolicyCheck(app, redis, allowEviction);
    installShardLayoutCheck(app, redis, stream, streams.length);
    app.addHook('onClose', async () => {
      await closeRedis(redis);
    });
  },
  { name: 'ep-process-store', fastify: '5.x', dependencies: ['ep-metrics'] },
);
