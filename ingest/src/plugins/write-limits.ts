import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import fastifyUnderPressure from '@fastify/under-pressure';
import { Gauge } from 'prom-client';
import { answeredInHook, REDIS_RETRY_AFTER_S, refuseInHook, requestAuth, sendUnavailable } from '@energy-pipeline/server-kit';
import type { LimitsConfig } from '../config/config.js';

/** The write routes, by their contract metadata: the only ones these limits apply to. */
const isWriteRoute = (request: FastifyRequest) => requestAuth(request).auth === 'write';

/** Retry-After for an overloaded event loop or heap: long enough for the backlog of work to clear. */
const OVERLOAD_RETRY_AFTER_S = 5;

/**
 * Limits on the write routes, in the order they apply, all before a body is read (the plugin
 * needs auth and the store registered first; ingest/test/limits.test.ts pins the order):
 * 1. (the shared auth hook: no valid key → 401, no write scope → 403)
 * 2. Redis not connected or not answering (every breaker is open), or the consumer backlog past
 *    `maxBacklog` → 503 (backpressure);
 * 3. event-loop delay or heap use past their limits → 503 (@fastify/under-pressure);
 * 4. past the key's rate limit → 429 (installRateLimit, per API key, or per client IP when
 *    auth is off). Counted in memory and shared through Redis every RATE_LIMIT_SYNC_MS
 *    (store/rate-counts.ts), so that the limit holds across replicas without a Redis round trip
 *    per request; with 0, counted in Redis per request, and when Redis cannot count that one,
 *    the request goes on (and meets step 2 or the write's own 503).
 * Every refusal carries Retry-After. Health, metrics and docs are never refused here.
 */
export const writeLimitsPlugin = fp<{ limits: LimitsConfig }>(
  async (app, { limits }) => {
    installBackpressure(app, limits);
    installOverloadShedding(app, limits);
    installRateLimit(app, limits);
  },
  { name: 'ep-write-limits', fastify: '5.x', dependencies: ['ep-auth', 'ep-ingest-store'] },
);

function installOverloadShedding(app: FastifyInstance, limits: LimitsConfig) {
  app.register(fastifyUnderPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxHeapUsedBytes: limits.maxHeapUsedBytes,
    // Fastify stops at a sent reply; returning nothing lets the other routes through.
    pressureHandler: (request, reply, type) => {
      if (isWriteRoute(request)) sendUnavailable(reply, OVERLOAD_RETRY_AFTER_S, `The server is overloaded (${type}); retry later`);
    },
  });
}

function installBackpressure(app: FastifyInstance, limits: LimitsConfig) {
  const { redis, monitor: backlog, breakers } = app.ingestStore;
  const registry = app.metrics.registry;
  new Gauge({
    name: 'ep_ingest_backlog',
    help: 'Consumer-group backlog (lag + pending) as last read by this instance; writes get 503 past ep_ingest_backlog_limit',
    registers: [registry],
    collect() {
      if (backlog.value !== null) this.set(backlog.value);
    },
  });
  new Gauge({ name: 'ep_ingest_backlog_limit', help: 'MAX_BACKLOG (0: no limit)', registers: [registry] }).set(limits.maxBacklog);
  // The processor's ep_redis_up, seen from ingest: 0 exactly when writes get 503 for Redis below.
  new Gauge({
    name: 'ep_redis_up',
    help: '1 while Redis is connected and answering (every circuit breaker is closed), else 0: writes, or those of a shard whose node does not answer, then get 503',
    registers: [registry],
    collect() {
      this.set(redis.status === 'ready' && !breakers.anyOpen ? 1 : 0);
    },
  });

  /** Answers 503 and returns the reply, or returns undefined when the write may go on. */
  const refused = (request: FastifyRequest, reply: FastifyReply) => {
    if (!isWriteRoute(request)) return undefined;
    // Before the rate limiter, so that a Redis that does not answer costs no wait at all here.
    // With some circuits open, the writer answers their shards' readings at once.
    if (redis.status !== 'ready' || breakers.allOpen) {
      const why = breakers.allOpen ? 'Redis is not answering' : 'Redis is unavailable';
      return sendUnavailable(reply, REDIS_RETRY_AFTER_S, `${why}; nothing was stored, retry later`, 'not_stored');
    }
    if (backlog.layoutProblem) {
      return sendUnavailable(reply, limits.backlogRetryAfterS, `Writes are paused: ${backlog.layoutProblem}; nothing was stored`, 'not_stored');
    }
    if (limits.maxBacklog > 0 && backlog.value !== null && backlog.value > limits.maxBacklog) {
      request.log.warn({ backlog: backlog.value, limit: limits.maxBacklog }, 'shedding: consumer backlog too long');
      return sendUnavailable(reply, limits.backlogRetryAfterS, `The processing backlog is too long (${backlog.value} readings); retry later`);
    }
    return undefined;
  };
  // A callback hook (never waits): no promise per request on the write route.
  app.addHook('onRequest', (request, reply, done) => {
    if (!refused(request, reply)) done();
  });
}

/**
 * The rate limit: a callback hook over RateCounts, where @fastify/rate-limit's per-request path
 * (five awaits and a promise around its store) was measurable on the single route
 * (`npm run bench:profile -- --only ablate`; docs/performance.md); the counting and its Lua were
 * ours already.
 */
function installRateLimit(app: FastifyInstance, limits: LimitsConfig) {
  if (limits.rateLimitMax === 0) return;
  const { rateCounts } = app.ingestStore;
  const max = limits.rateLimitMax;
  const refuse = (reply: FastifyReply, ttlMs: number) => {
    const retryAfterS = Math.max(1, Math.ceil(ttlMs / 1000));
    reply.header('retry-after', String(retryAfterS));
    reply.header('x-ratelimit-limit', String(max)).header('x-ratelimit-remaining', '0').header('x-ratelimit-reset', String(retryAfterS));
    const message = `Rate limit of ${max} requests per ${limits.rateLimitWindowMs / 1000} s exceeded; retry in ${retryAfterS} s`;
    return refuseInHook(reply, 429, { error: 'rate_limited', message });
  };
  app.addHook('onRequest', (request, reply, done) => {
    if (!isWriteRoute(request) || answeredInHook(request)) {
      done();
      return;
    }
    // Per API key; per client address with auth off.
    const key = request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`;
    if (!rateCounts.perRequest) {
      const { current, ttl } = rateCounts.incr(key);
      if (current <= max) done();
      else refuse(reply, ttl);
      return;
    }
    rateCounts.incrShared(key).then((state) => {
      if (state === null || state.current <= max) done();
      else refuse(reply, state.ttl);
    }, done);
  });
}
