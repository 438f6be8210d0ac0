import type { FastifyInstance } from 'fastify';
import { hashTag } from './redis-keys.js';
import { installRedisCheck } from './redis-check.js';
import type { RedisClient } from './redis.js';

/**
 * Thrown when STREAM_SHARDS differs from the shard count the data in Redis is laid out in: ingest
 * would write a site's readings to one shard while its dedupe state and aggregates sit in another,
 * and readings would be counted twice. Changing it is a procedure (process/src/reshard/reshard.ts).
 */
export class ShardLayoutError extends Error {
  override name = 'ShardLayoutError';
  constructor(configured: number, stored: number, key: string) {
    super(
      `STREAM_SHARDS is ${configured} but the data in Redis is laid out in ${stored} shard(s) (${key}): ` +
        'every service of a pipeline must use the same count; to change it, follow the resharding procedure (npm run reshard)',
    );
  }
}

/** The key that records how many shards the stream `stream` is split into. */
export const layoutKey = (stream: string) => `ep:${hashTag(stream)}:layout`;

/**
 * Records the shard count the first time, and refuses a different one afterwards. The first
 * service to reach Redis writes it (HSETNX), so two deployments disagreeing at once cannot both win.
 */
export async function checkShardLayout(redis: RedisClient, stream: string, shards: number): Promise<void> {
  const key = layoutKey(stream);
  await redis.hsetnx(key, 'shards', shards);
  const stored = Number(await redis.hget(key, 'shards'));
  if (stored !== shards) throw new ShardLayoutError(shards, stored, key);
}

/** Checks the layout when the app starts and whenever `redis` reconnects (installRedisCheck). */
export function installShardLayoutCheck(app: FastifyInstance, redis: RedisClient, stream: string, shards: number) {
  installRedisCheck(app, redis, {
    what: 'the shard layout',
    check: async () => {
      await checkShardLayout(redis, stream, shards);
      app.log.debug({ shards }, 'shard layout checked');
    },
    fatal: (err) => err instanceof ShardLayoutError,
  });
}
