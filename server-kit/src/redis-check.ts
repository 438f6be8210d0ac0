import type { FastifyInstance } from 'fastify';
import { stopFaulted } from './lifecycle.js';
import type { RedisClient } from './redis.js';

export interface RedisCheck {
  /** What is checked, for the log: "Redis maxmemory-policy". */
  what: string;
  /** Resolves when Redis is fit to use; rejects with a fatal error when it is not. */
  check: () => Promise<unknown>;
  /** Whether an error means "unfit" (stop) rather than "could not tell now" (try again later). */
  fatal: (err: unknown) => boolean;
}

/**
 * Runs a check of what a Redis server is (its memory policy, the shard layout it holds) when the
 * app starts and again whenever `redis` reconnects, since a failover or a restart may bring a
 * differently configured server:
 * - reachable at start and unfit: the app refuses to start (ready() rejects);
 * - unreachable at start: the app starts anyway and answers 503s as it does for any Redis outage
 *   (a Redis that is down while pods start must not become a crash loop); the check runs as soon
 *   as the connection is ready;
 * - unfit on a later connection: the process stops with exit code 1 (stopFaulted), and its restart
 *   then refuses to start, with the same message, until the server is fixed.
 * Register it after the hook that waits for the first connection.
 */
export function installRedisCheck(app: FastifyInstance, redis: RedisClient, { what, check, fatal }: RedisCheck) {
  const unknown = (err: unknown) =>
    app.log.warn({ err: (err as Error).message }, `could not check ${what}; checked again on the next connection`);
  const recheck = () => {
    check().catch((err: unknown) => (fatal(err) ? stopFaulted(app, err as Error) : unknown(err)));
  };
  app.addHook('onReady', async () => {
    // Listen first: a reconnect while the first check runs must not go unchecked.
    redis.on('ready', recheck);
    if (redis.status === 'ready') {
      await check().catch((err: unknown) => {
        if (fatal(err)) throw err;
        unknown(err);
      });
    } else {
      app.log.warn(`${what} not checked yet: Redis is unreachable; it is checked when Redis connects`);
    }
  });
  app.addHook('onClose', async () => {
    redis.off('ready', recheck);
  });
}
