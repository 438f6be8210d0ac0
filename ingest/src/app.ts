import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCompress from '@fastify/compress';
import { initServer } from '@ts-rest/fastify';
import { checkTimestampWindow, ingestContract, validationError } from '@energy-pipeline/contract';
import {
  closeRedis,
  createRedis,
  installDocs,
  installEvictionPolicyCheck,
  installHttpDefaults,
  installMetrics,
  requestValidationErrorHandler,
  serverOptions,
  streamSummary,
  waitReady,
} from '@energy-pipeline/contract/server';
import type { IngestConfig } from './config.js';
import { mayWrite } from './api-keys.js';
import { installAuth } from './auth.js';
import { BacklogMonitor } from './backlog.js';
import { batchResults, checkItem, itemReason } from './batch.js';
import { ReadingCounters, rejectionReason } from './counters.js';
import { REDIS_RETRY_AFTER_S, installBackpressure, installOverloadShedding } from './limits.js';
import { defineScripts } from './scripts.js';
import { StoreUnavailableError, StreamWriter } from './stream-writer.js';

/** Builds the ingest API. It never listens: main.ts does, tests use `app.inject`. */
export function buildIngestApp(config: IngestConfig): FastifyInstance {
  const app = Fastify(serverOptions(config.logLevel, config.bodyLimitBytes));
  const metrics = installMetrics(app);
  const { url, commandTimeoutMs, stream, group } = config.redis;
  const redis = metrics.instrumentRedis(
    defineScripts(createRedis({ url, role: 'commands', name: 'ep-ingest', commandTimeoutMs })),
    'commands',
  );
  // Rate-limit counters on their own connection, so their traffic never queues behind writes.
  const rateLimitRedis = metrics.instrumentRedis(
    createRedis({ url, role: 'commands', name: 'ep-ingest-rate-limit', commandTimeoutMs }),
    'rate-limit',
  );
  const writer = new StreamWriter(redis, stream, config.idempotencyWindowS);
  const counters = new ReadingCounters(metrics.registry);
  const backlog = new BacklogMonitor(redis, stream, group, config.limits.backlogCheckIntervalMs, app.log);
  const startedAt = Date.now();

  installHttpDefaults(app);
  installAuth(app, config.auth);
  installBackpressure(app, config.limits, { redis, rateLimitRedis, backlog, registry: metrics.registry });
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
  app.addHook('onClose', async () => {
    backlog.stop();
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

  const s = initServer();
  const router = s.router(ingestContract, {
    postReading: async ({ body, request, reply }) => {
      const problem = checkTimestampWindow(body.timestamp, config.timestampWindow);
      if (problem) {
        return { status: 400, body: validationError([{ in: 'body', path: 'timestamp', message: problem }]) };
      }
      if (!mayWrite(request.apiKey, body.site_id)) {
        return { status: 403, body: { error: 'forbidden', message: `This API key may not write readings for site '${body.site_id}'` } };
      }
      try {
        const { id, duplicate } = await writer.append(body);
        counters.accept('/readings', duplicate);
        // A repeat gets the very answer the first attempt got; the header tells the two apart.
        if (duplicate) reply.header('idempotent-replayed', 'true');
        return { status: 202, body: { status: 'success', stream_id: id, message: 'Reading successfully ingested' } };
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        app.log.warn({ err: err.message }, 'reading not stored');
        reply.header('retry-after', String(REDIS_RETRY_AFTER_S));
        return unavailable('The reading was not stored: Redis is unavailable');
      }
    },
    postReadingsBatch: async ({ body, request, reply }) => {
      if (body.readings.length > config.batchMaxReadings) {
        const message = `must hold at most ${config.batchMaxReadings} readings (got ${body.readings.length})`;
        return { status: 400, body: validationError([{ in: 'body', path: 'readings', message }]) };
      }
      const checked = body.readings.map((item, i) => checkItem(item, i, config.timestampWindow, request.apiKey));
      const valid = checked.flatMap((c) => ('reading' in c ? [c.reading] : []));
      const written = valid.length > 0 ? await writer.appendMany(valid) : [];
      const result = batchResults(checked, written);
      for (const r of result.results) {
        if (r.status === 'accepted') counters.accept('/readings/batch', r.duplicate);
        else counters.reject('/readings/batch', itemReason(r.error));
      }
      if (written.length > 0 && written.every((w) => w instanceof StoreUnavailableError)) {
        app.log.warn({ err: (written[0] as Error).message }, 'batch not stored');
        reply.header('retry-after', String(REDIS_RETRY_AFTER_S));
        return unavailable('The batch was not stored: Redis is unavailable');
      }
      return { status: 200, body: result };
    },
    health: async () => {
      const up = await redis.ping().then(
        () => true,
        () => false,
      );
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
        const summary = await streamSummary(redis, stream);
        return { status: 200, body: { stream: summary, readings: counters.snapshot() } };
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
