import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCompress from '@fastify/compress';
import { initServer } from '@ts-rest/fastify';
import { checkTimestampWindow, ingestContract, validationError } from '@energy-pipeline/contract';
import { allowsSite, closeRedis, createRedis, installAuth, installDocs, installEvictionPolicyCheck, installShardLayoutCheck, installHttpDefaults, installMetrics, requestValidationErrorHandler, serverOptions, streamsSummary, waitReady } from '@energy-pipeline/server-kit';
import type { IngestConfig } from './config.js';
import { ShardMonitor } from './shard-monitor.js';
import { batchResults, checkItem, itemReason, outOfOrderMessage } from './batch.js';
import { ReadingCounters, rejectionReason } from './counters.js';
import { REDIS_RETRY_AFTER_S, installBackpressure, installOverloadShedding } from './limits.js';
import { defineScripts } from './scripts.js';
import { StoreUnavailableError, StreamWriter } from './stream-writer.js';
import { WriteBreakers } from './write-breakers.js';

/** Builds the ingest API. It never listens: main.ts does, tests use `app.inject`. */
export function buildIngestApp(config: IngestConfig): FastifyInstance {
  const app = Fastify(serverOptions(config.logLevel, config.bodyLimitBytes, undefined, config.logFormat));
  const metrics = installMetrics(app);
  const { url, clusterNodes, commandTimeoutMs, stream, streams, group } = config.redis;
  const redis = metrics.instrumentRedis(
    defineScripts(createRedis({ url, clusterNodes, role: 'commands', name: 'ep-ingest', commandTimeoutMs, log: app.log })),
    'commands',
  );
  // Rate-limit counters on their own connection, so their traffic never queues behind writes, with
  // a quarter of the write budget: a limiter that cannot count lets the request through, and the
  // write still answers within REDIS_COMMAND_TIMEOUT_MS of the request's arrival.
  const rateLimitRedis = metrics.instrumentRedis(
    createRedis({ url, clusterNodes, role: 'commands', name: 'ep-ingest-rate-limit', commandTimeoutMs: Math.ceil(commandTimeoutMs / 4) }),
    'rate-limit',
  );
  const breakers = new WriteBreakers(redis, streams, app.log);
  const writer = new StreamWriter(redis, streams, { dedupeMaxGaps: config.dedupeMaxGaps, writeReplicas: config.writeReplicas, breakers });
  const counters = new ReadingCounters(metrics.registry);
  const backlog = new ShardMonitor(redis, stream, streams, group, config.limits.backlogCheckIntervalMs, app.log);
  const startedAt = Date.now();

  installHttpDefaults(app);
  installAuth(app, config.auth, 'ingest');
  installBackpressure(app, config.limits, { redis, rateLimitRedis, breakers, backlog, registry: metrics.registry });
  installOverloadShedding(app, config.limits);
  // Gateways may gzip their batches; bodyLimitBytes then bounds the decompressed size.
  app.register(fastifyCompress, { globalCompression: false, requestEncodings: ['gzip', 'deflate'] });
  installDocs(app, ingestContract, { title: 'energy-pipeline ingest', version: '1' });

  app.addHook('onReady', async () => {
    // Start answering even when Redis is down (as 503s), but give it a moment to connect first.
    await Promise.all([waitReady(redis, 3_000), waitReady(rateLimitRedis, 3_000)]).catch(() =>
      app.log.warn('Redis is not reachable yet'),
    );
    backlog.start();
  });
  installEvictionPolicyCheck(app, redis, config.redis.allowEviction);
  installShardLayoutCheck(app, redis, stream, streams.length);
  app.addHook('onClose', async () => {
    await backlog.stop();
    breakers.close();
    await Promise.all([closeRedis(redis), closeRedis(rateLimitRedis)]);
  });
  app.addHook('onResponse', async (request, reply) => {
    // Accepted readings are counted by the handler, which knows whether they were repeats.
    if (request.method !== 'POST' || request.routeOptions.url !== '/readings' || reply.statusCode === 202) return;
    counters.reject('/readings', rejectionReason(reply.statusCode));
  });

  const unavailable = (what: string) => ({
    status: 503 as const,
    body: { error: 'unavailable', message: `${what}; retry later` },
  });
  /** A write that failed: honest about whether it may have been stored. */
  const writeFailed = (what: 'reading' | 'batch', err: StoreUnavailableError) => ({
    status: 503 as const,
    body: {
      error: 'unavailable',
      outcome: err.outcome,
      message:
        err.outcome === 'unknown'
          ? `Redis did not answer in time: the ${what} may have been stored. Resending is safe: a repeat ` +
            'is recognised by its device and seq (or timestamp) and not stored twice'
          : `The ${what} was not stored: Redis is unavailable; retry later`,
    },
  });
  const outOfOrder = (reading: { site_id: string; device_id: string; seq?: number | undefined }) => ({
    status: 409 as const,
    body: {
      error: 'out_of_order',
      message: outOfOrderMessage(reading),
    },
  });
  /** What is left of the request's Redis budget: a write answers within REDIS_COMMAND_TIMEOUT_MS of arrival. */
  const budgetMs = (elapsedMs: number) => Math.max(1, commandTimeoutMs - elapsedMs);

  const s = initServer();
  const router = s.router(ingestContract, {
    postReading: async ({ body, request, reply }) => {
      const problem = checkTimestampWindow(body.timestamp, config.timestampWindow);
      if (problem) {
        return { status: 400, body: validationError([{ in: 'body', path: 'timestamp', message: problem }]) };
      }
      if (!allowsSite(request.apiKey, body.site_id)) {
        return { status: 403, body: { error: 'forbidden', message: `This API key may not write readings for site '${body.site_id}'` } };
      }
      try {
        const appended = await writer.append(body, budgetMs(reply.elapsedTime));
        if (appended.status === 'unverifiable') return outOfOrder(body);
        const duplicate = appended.status === 'repeat';
        counters.accept('/readings', duplicate);
        // A repeat gets a 202 too: it is stored (from before). The header tells the two apart.
        if (duplicate) reply.header('idempotent-replayed', 'true');
        return {
          status: 202,
          body: duplicate
            ? { status: 'success', stream_id: null, duplicate, message: 'Reading already accepted earlier; not stored again' }
            : { status: 'success', stream_id: appended.id, duplicate, message: 'Reading successfully ingested' },
        };
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        app.log.warn({ err: err.message, outcome: err.outcome }, 'reading not acknowledged');
        reply.header('retry-after', String(REDIS_RETRY_AFTER_S));
        return writeFailed('reading', err);
      }
    },
    postReadingsBatch: async ({ body, request, reply }) => {
      if (body.readings.length > config.batchMaxReadings) {
        const message = `must hold at most ${config.batchMaxReadings} readings (got ${body.readings.length})`;
        return { status: 400, body: validationError([{ in: 'body', path: 'readings', message }]) };
      }
      const checked = body.readings.map((item, i) => checkItem(item, i, config.timestampWindow, request.apiKey));
      const valid = checked.flatMap((c) => ('reading' in c ? [c.reading] : []));
      const written = valid.length > 0 ? await writer.appendBatch(valid, budgetMs(reply.elapsedTime)) : [];
      // Every shard it went to failed: nothing of it is known to be stored, answer for the whole.
      const failures = written.filter((w): w is StoreUnavailableError => w instanceof StoreUnavailableError);
      if (written.length > 0 && failures.length === written.length) {
        const failure = failures.find((f) => f.outcome === 'unknown') ?? failures[0]!;
        app.log.warn({ err: failure.message, outcome: failure.outcome }, 'batch not acknowledged');
        reply.header('retry-after', String(REDIS_RETRY_AFTER_S));
        return writeFailed('batch', failure);
      }
      const result = batchResults(checked, written);
      for (const r of result.results) {
        if (r.status === 'accepted') counters.accept('/readings/batch', r.duplicate);
        else counters.reject('/readings/batch', itemReason(r.error));
      }
      return { status: 200, body: result };
    },
    health: async () => {
      const up = !breakers.allOpen && (await redis.ping().then(
        () => true,
        () => false,
      ));
      const body = {
        status: up ? ('ok' as const) : ('unavailable' as const),
        redis: up ? ('up' as const) : ('down' as const),
        stream,
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
      };
      return up ? { status: 200, body } : { status: 503, body };
    },
    metrics: async () => {
      try {
        const summary = await streamsSummary(redis, streams, stream);
        return {
          status: 200,
          body: { stream: summary, backlog: { total: backlog.value, shards: backlog.shards }, readings: counters.snapshot() },
        };
      } catch (err) {
        app.log.warn({ err: (err as Error).message }, 'metrics unavailable');
        return unavailable('Stream metrics are unavailable: Redis is unreachable');
      }
    },
  });

  app.register(s.plugin(router), { requestValidationErrorHandler, logInitialization: false });
  return app;
}

export type { IngestConfig } from './config.js';
export { loadIngestConfig } from './config.js';
