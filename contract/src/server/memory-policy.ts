import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { stopFaulted } from './lifecycle.js';

/**
 * The only maxmemory-policy the pipeline is correct under. Any eviction policy may drop an
 * idempotency key (a resend is then stored twice) or an aggregate bucket (its counts restart),
 * and `volatile-*` policies pick exactly those keys, because they are the ones with a TTL.
 * Under `noeviction` a full Redis refuses writes instead: ingest answers 503, nothing is lost.
 */
export const SAFE_MAXMEMORY_POLICY = 'noeviction';

/** Thrown when Redis may evict keys and ALLOW_EVICTION is not set; its message names the policy. */
export class EvictionPolicyError extends Error {
  override name = 'EvictionPolicyError';
  constructor(readonly policy: string) {
    super(
      `Redis maxmemory-policy is ${policy}, not ${SAFE_MAXMEMORY_POLICY}: Redis may evict idempotency keys and ` +
        `aggregate buckets, which counts readings twice. Set maxmemory-policy ${SAFE_MAXMEMORY_POLICY} ` +
        '(Memorystore: --redis-config maxmemory-policy=noeviction), or ALLOW_EVICTION=true to run anyway',
    );
  }
}

/**
 * The server's maxmemory-policy, from INFO memory: managed Redis (Memorystore, ElastiCache)
 * blocks CONFIG GET but answers INFO. A server that refuses INFO (an ACL without +info) or does
 * not report the field yields a description of why it is unknown, which is not `noeviction`.
 * Connection errors and timeouts are thrown: they say nothing about the policy.
 */
export async function readMaxmemoryPolicy(redis: Redis): Promise<string> {
  let info: string;
  try {
    info = await redis.info('memory');
  } catch (err) {
    if ((err as Error).name !== 'ReplyError') throw err;
    return `unknown (INFO memory failed: ${(err as Error).message})`;
  }
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? 'unknown (INFO memory does not report maxmemory_policy)';
}

export interface EvictionCheckOptions {
  /** ALLOW_EVICTION: run on an evicting Redis anyway, logging an error. @default false */
  allowEviction: boolean;
  log: FastifyBaseLogger;
}

/**
 * Reads the policy once. Resolves with it when it is `noeviction`, or, after logging an error,
 * when eviction is allowed; otherwise logs the error and throws EvictionPolicyError.
 */
export async function checkEvictionPolicy(redis: Redis, { allowEviction, log }: EvictionCheckOptions): Promise<string> {
  const policy = await readMaxmemoryPolicy(redis);
  if (policy === SAFE_MAXMEMORY_POLICY) return policy;
  const err = new EvictionPolicyError(policy);
  if (allowEviction) {
    log.error({ maxmemoryPolicy: policy }, `${err.message}; running anyway because ALLOW_EVICTION=true`);
    return policy;
  }
  log.error({ maxmemoryPolicy: policy }, err.message);
  throw err;
}

/**
 * Checks the policy when the app starts and again whenever `redis` reconnects (a failover or a
 * restart may bring a differently configured server):
 * - Redis reachable at start and evicting: the app refuses to start (ready() rejects).
 * - Redis unreachable at start: the app starts anyway and answers 503s as it does for any Redis
 *   outage (a Redis that is down while pods start must not become a crash loop); the policy is
 *   checked as soon as the connection is ready.
 * - Evicting on a later connection: the process stops with exit code 1 (stopFaulted), and its
 *   restart then refuses to start, with the same message, until the policy is fixed.
 * Register it after the hook that waits for the first connection.
 */
export function installEvictionPolicyCheck(app: FastifyInstance, redis: Redis, allowEviction: boolean) {
  const options = { allowEviction, log: app.log };
  const recheck = () => {
    checkEvictionPolicy(redis, options).catch((err: unknown) => {
      if (err instanceof EvictionPolicyError) stopFaulted(app, err);
      else app.log.warn({ err: (err as Error).message }, 'could not read Redis maxmemory-policy; checked again on the next connection');
    });
  };
  app.addHook('onReady', async () => {
    // Listen first: a reconnect while the first check runs must not go unchecked.
    redis.on('ready', recheck);
    if (redis.status === 'ready') {
      await checkEvictionPolicy(redis, options).catch((err: unknown) => {
        if (err instanceof EvictionPolicyError) throw err;
        app.log.warn({ err: (err as Error).message }, 'could not read Redis maxmemory-policy; checked again on the next connection');
      });
    } else {
      app.log.warn('Redis maxmemory-policy not checked yet: Redis is unreachable; it is checked when Redis connects');
    }
  });
  app.addHook('onClose', async () => {
    redis.off('ready', recheck);
  });
}
