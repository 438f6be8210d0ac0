import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { RedisClient } from './redis.js';
import { Cluster } from 'ioredis';
import { installRedisCheck } from './redis-check.js';

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
export async function readMaxmemoryPolicy(redis: RedisClient): Promise<string> {
  // A cluster's masters are configured one by one: every one of them must be safe.
  if (redis instanceof Cluster) {
    const masters = redis.nodes('master');
    const policies = await Promise.all(masters.map((node) => readMaxmemoryPolicy(node)));
    const bad = policies.findIndex((p) => p !== SAFE_MAXMEMORY_POLICY);
    return bad < 0 ? SAFE_MAXMEMORY_POLICY : `${policies[bad]} (on ${masters[bad]!.options.host}:${masters[bad]!.options.port})`;
  }
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
export async function checkEvictionPolicy(redis: RedisClient, { allowEviction, log }: EvictionCheckOptions): Promise<string> {
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

/** Checks the policy when the app starts and whenever `redis` reconnects: see installRedisCheck. */
export function installEvictionPolicyCheck(app: FastifyInstance, redis: RedisClient, allowEviction: boolean) {
  installRedisCheck(app, redis, {
    what: 'Redis maxmemory-policy',
    check: () => checkEvictionPolicy(redis, { allowEviction, log: app.log }),
    fatal: (err) => err instanceof EvictionPolicyError,
  });
}
