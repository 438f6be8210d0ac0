import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { initServer } from '@ts-rest/fastify';
import { processContract, validationError } from '@energy-pipeline/contract';
import { isRedisUnavailable, notFound, readPendingSummary, type RedisClient, unavailable } from '@energy-pipeline/server-kit';
import type { ProcessConfig } from './config/config.js';
import type { DeadLetters } from './queries/dead-letters.js';
import { QueryError, type Queries } from './queries/queries.js';
import type { Shards } from './queries/shards.js';
import { readShardedStats } from './queries/stream-stats.js';
import type { ProcessWorker } from './worker/worker.js';

interface RouteDeps {
  config: ProcessConfig;
  redis: RedisClient;
  worker: ProcessWorker;
  queries: Queries;
  shards: Shards;
  deadLetters: DeadLetters;
  log: FastifyBaseLogger;
  startedAt: number;
}

const redisUnavailable = unavailable('Redis is unreachable; retry later');

/**
 * Redis being unavailable (not connected, dropped, timed out, loading…: see isRedisUnavailable)
 * is a 503. Anything else, a WRONGTYPE from a corrupted key or a bug in this code, is rethrown:
 * the global error handler logs it with its stack and answers 500, so that it is seen as what it
 * is rather than passed off as an outage that a retry would cure.
 */
async function orUnavailable<T>(log: FastifyBaseLogger, run: () => Promise<T>) {
  try {
    return await run();
  } catch (err) {
    if (!isRedisUnavailable(err)) throw err;
    log.warn({ err: (err as Error).message }, 'Redis unavailable');
    return redisUnavailable;
  }
}

/** As orUnavailable, and a query that cannot be answered as asked is a 400 naming the parameter. */
function answer<T>(log: FastifyBaseLogger, run: () => Promise<T>) {
  return orUnavailable(log, async () => {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      return { status: 400 as const, body: validationError([{ in: 'query', path: err.field, message: err.message }]) };
    }
  });
}

/**
 * The handlers of the processor's contract. They see the store (plugins/store.ts) and the worker
 * (plugins/worker.ts) through the app; auth ran before.
 */
export function processRouter(app: FastifyInstance, config: ProcessConfig) {
  const d: RouteDeps = { config, ...app.processStore, worker: app.worker, log: app.log, startedAt: Date.now() };
  const { group, name } = d.config.consumer;
  const readStreams = d.config.shards.map((i) => d.config.redis.streams[i]!);
  const s = initServer();
  return s.router(processContract, {
    health: async () => {
      // What this consumer holds on the shards it reads; null when Redis cannot tell.
      const pending = await Promise.all(readStreams.map((stream) => readPendingSummary(d.redis, stream, group))).then(
        (summaries) => summaries.reduce((n, s) => n + (s.byConsumer.get(name) ?? 0), 0),
        () => null,
      );
      const status = d.worker.status();
      const up = pending !== null;
      const body = {
        status: up && status.running ? ('ok' as const) : ('unavailable' as const),
        redis: up ? ('up' as const) : ('down' as const),
        consumer: name,
        group,
        running: status.running,
        pending,
        last_activity: status.lastActivity?.toISOString() ?? null,
        uptime_s: Math.round((Date.now() - d.startedAt) / 1000),
      };
      return body.status === 'ok' ? { status: 200, body } : { status: 503, body };
    },
    metrics: () =>
      orUnavailable(d.log, async () => {
        const { combined, shards } = await readShardedStats(d.redis, d.config.redis.streams, group, d.config.consumer.stream);
        const own = d.worker.status();
        return {
          status: 200 as const,
          body: {
            stream: combined.stream,
            group: combined.group,
            shards: shards.map((s, shard) => ({ shard, stream: s.stream, group: s.group, dead_letters: s.deadLetters })),
            applied: { total: combined.totals.applied, by_this_consumer: own.applied, validation_failed: combined.totals.validation_failed, dead_lettered: combined.totals.dead_lettered },
            dead_letters: combined.deadLetters,
            trimmed: own.trimmed,
          },
        };
      }),
    // A key limited to some sites lists only those (metadata: sites 'handler').
    sites: ({ query, request }) =>
      answer(d.log, async () => ({ status: 200 as const, body: await d.queries.sites(query, request.apiKey?.sites ?? null) })),
    site: ({ params }) =>
      answer(d.log, async () => {
        const body = await d.queries.site(params.site_id);
        return body ? { status: 200 as const, body } : notFound(`No readings for site ${params.site_id}`);
      }),
    putSite: ({ params, body }) =>
      orUnavailable(d.log, async () => {
        await d.shards.forSite(params.site_id).zones.set(params.site_id, body.time_zone);
        d.log.info({ site: params.site_id, zone: body.time_zone }, 'site time zone set');
        return { status: 200 as const, body: (await d.queries.site(params.site_id))! };
      }),
    siteDevices: ({ params, query }) =>
      answer(d.log, async () => {
        const body = await d.queries.siteDevices(params.site_id, query);
        return body ? { status: 200 as const, body } : notFound(`No readings for site ${params.site_id}`);
      }),
    device: ({ params }) =>
      answer(d.log, async () => {
        const body = await d.queries.device(params.site_id, params.device_id);
        return body ? { status: 200 as const, body } : notFound(`No readings for device ${params.device_id} at site ${params.site_id}`);
      }),
    siteSeries: ({ params, query }) =>
      answer(d.log, async () => ({ status: 200 as const, body: await d.queries.siteSeries(params.site_id, query) })),
    deviceSeries: ({ params, query }) =>
      answer(d.log, async () => ({
        status: 200 as const,
        body: await d.queries.deviceSeries(params.site_id, params.device_id, query),
      })),
    listDeadLetters: ({ query: { limit, after, ...filter } }) =>
      answer(d.log, async () => ({ status: 200 as const, body: await d.deadLetters.list(filter, limit, after) })),
    replayDeadLetter: ({ params }) =>
      answer(d.log, async () => {
        const id = await d.deadLetters.replay(params.id);
        return id ? { status: 200 as const, body: { replayed: 1, stream_ids: [id] } } : notFound(`No dead letter ${params.id}`);
      }),
    replayDeadLetters: ({ body }) =>
      answer(d.log, async () => {
        const ids = await d.deadLetters.replayMatching(body);
        return { status: 200 as const, body: { replayed: ids.length, stream_ids: ids } };
      }),
    deleteDeadLetter: ({ params }) =>
      answer(d.log, async () => {
        const deleted = await d.deadLetters.delete(params.id);
        return deleted ? { status: 200 as const, body: { deleted } } : notFound(`No dead letter ${params.id}`);
      }),
    deleteDeadLetters: ({ body }) =>
      answer(d.log, async () => ({ status: 200 as const, body: { deleted: await d.deadLetters.deleteMatching(body) } })),
  });
}
