import Fastify, { type FastifyInstance } from 'fastify';
import { initServer } from '@ts-rest/fastify';
import { checkTimestampWindow, ingestContract, validationError } from '@energy-pipeline/contract';
import {
  closeRedis,
  createRedis,
  installHttpDefaults,
  requestValidationErrorHandler,
  serverOptions,
  streamSummary,
  waitReady,
} from '@energy-pipeline/contract/server';
import type { IngestConfig } from './config.js';
import { ReadingCounters, rejectionReason } from './counters.js';
import { batchResults, checkItem } from './batch.js';
import { StoreUnavailableError, StreamWriter } from './stream-writer.js';

const RETRY_AFTER_S = '1';

/** Builds the ingest API. It never listens: main.ts does, tests use `app.inject`. */
export function buildIngestApp(config: IngestConfig): FastifyInstance {
  const app = Fastify(serverOptions(config.logLevel, config.bodyLimitBytes));
  const redis = createRedis({
    url: config.redis.url,
    role: 'commands',
    name: 'ep-ingest',
    commandTimeoutMs: config.redis.commandTimeoutMs,
  });
  const writer = new StreamWriter(redis, config.redis.stream);
  const counters = new ReadingCounters();
  const startedAt = Date.now();

  installHttpDefaults(app);
  app.addHook('onReady', async () => {
    // Start answering even when Redis is down (as 503s), but give it a moment to connect first.
    await waitReady(redis, 3_000).catch(() => app.log.warn('Redis is not reachable yet'));
  });
  app.addHook('onClose', async () => closeRedis(redis));
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'POST' || request.routeOptions.url !== '/readings') return;
    if (reply.statusCode === 202) counters.accepted += 1;
    else counters.reject(rejectionReason(reply.statusCode));
  });

  const unavailable = (what: string) => ({
    status: 503 as const,
    body: { error: 'unavailable', message: `${what}; retry later` },
  });

  const s = initServer();
  const router = s.router(ingestContract, {
    postReading: async ({ body, reply }) => {
      const problem = checkTimestampWindow(body.timestamp, config.timestampWindow);
      if (problem) {
        return { status: 400, body: validationError([{ in: 'body', path: 'timestamp', message: problem }]) };
      }
      try {
        const streamId = await writer.append(body);
        return { status: 202, body: { status: 'success', stream_id: streamId, message: 'Reading successfully ingested' } };
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        app.log.warn({ err: err.message }, 'reading not stored');
        reply.header('retry-after', RETRY_AFTER_S);
        return unavailable('The reading was not stored: Redis is unavailable');
      }
    },
    postReadingsBatch: async ({ body, reply }) => {
      if (body.readings.length > config.batchMaxReadings) {
        const message = `must hold at most ${config.batchMaxReadings} readings (got ${body.readings.length})`;
        return { status: 400, body: validationError([{ in: 'body', path: 'readings', message }]) };
      }
      const checked = body.readings.map((item, i) => checkItem(item, i, config.timestampWindow));
      const valid = checked.flatMap((c) => ('reading' in c ? [c.reading] : []));
      const written = valid.length > 0 ? await writer.appendMany(valid) : [];
      if (written.length > 0 && written.every((w) => w instanceof StoreUnavailableError)) {
        app.log.warn({ err: (written[0] as Error).message }, 'batch not stored');
        reply.header('retry-after', RETRY_AFTER_S);
        return unavailable('The batch was not stored: Redis is unavailable');
      }
      const result = batchResults(checked, written);
      counters.accepted += result.accepted;
      for (let i = 0; i < result.rejected; i++) counters.reject('invalid_in_batch');
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
        stream: config.redis.stream,
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
      };
      return up ? { status: 200, body } : { status: 503, body };
    },
    metrics: async () => {
      try {
        const stream = await streamSummary(redis, config.redis.stream);
        return { status: 200, body: { stream, readings: counters.snapshot() } };
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
