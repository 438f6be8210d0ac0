import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyUnderPressure from '@fastify/under-pressure';
import { Gauge, type Registry } from 'prom-client';
import type { ErrorBody } from '@energy-pipeline/contract';
import { RATE_LIMIT_KEY_PREFIX, requestAuth, type RedisClient } from '@energy-pipeline/server-kit';
import type { WriteBreakers } from './write-breakers.js';
import type { ShardMonitor } from './shard-monitor.js';
import type { LimitsConfig } from './config.js';

/** The write routes, by their contract metadata: the only ones these limits apply to. */
const isWriteRoute = (request: FastifyRequest) => requestAuth(request).auth === 'write';

/** Retry-After for a Redis outage: reconnecting takes about a second. */
export const REDIS_RETRY_AFTER_S = 1;
/** Retry-After for an overloaded event loop or heap: long enough for the backlog of work to clear. */
const OVERLOAD_RETRY_AFTER_S = 5;

function unavailable(reply: FastifyReply, retryAfterS: number, message: string, stored?: 'not_stored'): ErrorBody {
  reply.status(503).header('retry-after', String(retryAfterS));
  return { error: 'unavailable', message, ...(stored ? { outcome: stored } : {}) };
}

/**
 * Limits on the write routes, in the order they apply, all before a body is read:
 * 1. (the shared auth hook: no valid key → 401, no write scope → 403)
 * 2. Redis not connected or not answering (every breaker is open), or the consumer backlog past
 *    `maxBacklog` → 503 (installBackpressure);
 * 3. event-loop delay or heap use past their limits → 503 (@fastify/under-pressure);
 * 4. past the key's rate limit → 429 (@fastify/rate-limit, per API key, or per client IP when
 *    auth is off; counted in Redis so the limit holds across replicas). Its counters live on
 *    their own connection; when Redis cannot count, the request goes on (and meets step 2 or
 *    the write's own 503).
 * Every refusal carries Retry-After. Health, metrics and docs are never refused here.
 */
export function installOverloadShedding(app: FastifyInstance, limits: LimitsConfig) {
  app.register(fastifyUnderPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxHeapUsedBytes: limits.maxHeapUsedBytes,
    // Fastify stops at a sent reply; returning nothing lets the other routes through.
    pressureHandler: (request, reply, type) => {
      if (isWriteRoute(request)) reply.send(unavailable(reply, OVERLOAD_RETRY_AFTER_S, `The server is overloaded (${type}); retry later`));
    },
  });
}

export function installBackpressure(
  app: FastifyInstance,
  limits: LimitsConfig,
  deps: { redis: RedisClient; rateLimitRedis: RedisClient; breakers: WriteBreakers; backlog: ShardMonitor; registry: Registry },
) {
  const { redis, backlog, breakers } = deps;
  new Gauge({
    name: 'ep_ingest_backlog',
    help: 'Consumer-group backlog (lag + pending) as last read by this instance; writes get 503 past ep_ingest_backlog_limit',
    registers: [deps.registry],
    collect() {
      if (backlog.value !== null) this.set(backlog.value);
    },
  });
  new Gauge({ name: 'ep_ingest_backlog_limit', help: 'MAX_BACKLOG (0: no limit)', registers: [deps.registry] }).set(limits.maxBacklog);
  // The processor's ep_redis_up, seen from ingest: 0 exactly when writes get 503 for Redis below.
  new Gauge({
    name: 'ep_redis_up',
    help: '1 while Redis is connected and answering (every circuit breaker is closed), else 0: writes, or those of a shard whose node does not answer, then get 503',
    registers: [deps.registry],
    collect() {
      this.set(redis.status === 'ready' && !breakers.anyOpen ? 1 : 0);
    },
  });

  app.addHook('onRequest', async (request, reply) => {
    if (!isWriteRoute(request)) return;
    // Before the rate limiter, so that a Redis that does not answer costs no wait at all here.
    // With some circuits open, the writer answers their shards' readings at once.
    if (redis.status !== 'ready' || breakers.allOpen) {
      const why = breakers.allOpen ? 'Redis is not answering' : 'Redis is unavailable';
      return reply.send(unavailable(reply, REDIS_RETRY_AFTER_S, `${why}; nothing was stored, retry later`, 'not_stored'));
    }
    if (backlog.layoutProblem) {
      return reply.send(unavailable(reply, limits.backlogRetryAfterS, `Writes are paused: ${backlog.layoutProblem}; nothing was stored`, 'not_stored'));
    }
    if (limits.maxBacklog > 0 && backlog.value !== null && backlog.value > limits.maxBacklog) {
      request.log.warn({ backlog: backlog.value, limit: limits.maxBacklog }, 'shedding: consumer backlog too long');
      return reply.send(
        unavailable(reply, limits.backlogRetryAfterS, `The processing backlog is too long (${backlog.value} readings); retry later`),
      );
    }
  });

  if (limits.rateLimitMax === 0) return;
  app.register(fastifyRateLimit, {
    global: true,
    max: limits.rateLimitMax,
    timeWindow: limits.rateLimitWindowMs,
    redis: deps.rateLimitRedis,
    nameSpace: RATE_LIMIT_KEY_PREFIX,
    skipOnError: true,
    allowList: (request) => !isWriteRoute(request),
    keyGenerator: (request) => (request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`Rate limit of ${context.max} requests per ${context.after} exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`), {
        statusCode: 429,
      }),
  });
}
