import type { FastifyInstance } from 'fastify';
import { initServer } from '@ts-rest/fastify';
import { type BatchItemResult, ingestContract, validationError } from '@energy-pipeline/contract';
import { REDIS_RETRY_AFTER_S, streamsSummary, unavailable } from '@energy-pipeline/server-kit';
import type { IngestConfig } from './config/config.js';
import { batchResults, checkItem, checkReading } from './readings/batch.js';
import { refusal } from './readings/refusals.js';
import type { TimedReading } from './store/append-readings.js';
import { StoreFaultError, StoreUnavailableError } from './store/stream-writer.js';

type Rejected = Extract<BatchItemResult, { status: 'rejected' }>;

/** A write that failed: honest about whether it may have been stored. */
function writeFailed(what: 'reading' | 'batch', err: StoreUnavailableError) {
  return unavailable(
    err.outcome === 'unknown'
      ? `Redis did not answer in time: the ${what} may have been stored. Resending is safe: a repeat ` +
          'is recognised by its device and seq (or timestamp) and not stored twice'
      : `The ${what} was not stored: Redis is unavailable; retry later`,
    err.outcome,
  );
}

/**
 * The handlers of ingest's contract. They see the store (plugins/store.ts) and the reading
 * counters (plugins/reading-counters.ts) through the app; auth and the write limits ran before.
 */
export function ingestRouter(app: FastifyInstance, config: IngestConfig) {
  const { writer, breakers, monitor, redis } = app.ingestStore;
  const { counters } = app;
  const { stream, streams, commandTimeoutMs } = config.redis;
  const startedAt = Date.now();
  /** What is left of the request's Redis budget: a write answers within REDIS_COMMAND_TIMEOUT_MS of arrival. */
  const budgetMs = (elapsedMs: number) => Math.max(1, commandTimeoutMs - elapsedMs);

  return initServer().router(ingestContract, {
    postReading: async ({ body, request, reply }) => {
      const checked = checkReading(body, config.timestampWindow, request.apiKey);
      if ('rejection' in checked) {
        const { rejection } = checked;
        return rejection.error === 'forbidden' ? { status: 403, body: rejection } : { status: 400, body: rejection };
      }
      try {
        const appended = await writer.append({ reading: body, atMs: checked.atMs }, budgetMs(reply.elapsedTime));
        if (appended.status !== 'stored' && appended.status !== 'repeat') {
          if (appended.status === 'corrupt') {
            counters.corrupt();
            request.log.error({ what: appended.what, site_id: body.site_id, device_id: body.device_id }, 'dedupe state unreadable');
          }
          return refusal(body, appended);
        }
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
        if (err instanceof StoreFaultError) {
          request.log.error({ err }, 'append failed');
          const message =
            err.outcome === 'not_stored'
              ? "Not stored: the store failed on this reading; the details are in the server's log"
              : "The store failed on this reading and may have stored it; the details are in the server's log";
          return { status: 500, body: { error: 'internal_error', message, outcome: err.outcome } };
        }
        if (!(err instanceof StoreUnavailableError)) throw err;
        request.log.warn({ err: err.message, outcome: err.outcome }, 'reading not acknowledged');
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
      const valid: TimedReading[] = [];
      for (const c of checked) if ('reading' in c) valid.push(c);
      const written = valid.length > 0 ? await writer.appendBatch(valid, budgetMs(reply.elapsedTime)) : [];
      // Every shard it went to failed: nothing of it is known to be stored, answer for the whole.
      const failures = written.filter((w): w is StoreUnavailableError => w instanceof StoreUnavailableError);
      if (written.length > 0 && failures.length === written.length) {
        const failure = failures.find((f) => f.outcome === 'unknown') ?? failures[0]!;
        request.log.warn({ err: failure.message, outcome: failure.outcome }, 'batch not acknowledged');
        reply.header('retry-after', String(REDIS_RETRY_AFTER_S));
        return writeFailed('batch', failure);
      }
      const result = batchResults(checked, written);
      counters.countBatch(result.results);
      // filter, not flatMap: an array per reading was garbage on every batch.
      const corrupt = result.results.filter((r): r is Rejected => r.status === 'rejected' && r.error === 'internal_error' && r.stored_before !== undefined);
      if (corrupt.length > 0) {
        counters.corrupt(corrupt.length);
        request.log.error({ readings: corrupt.length, first: corrupt[0]!.message }, 'dedupe state unreadable');
      }
      return { status: 200, body: result };
    },

    health: async () => {
      const up = !breakers.allOpen && (await redis.ping().then(() => true, () => false));
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
          body: { stream: summary, backlog: { total: monitor.value, shards: monitor.shards }, readings: counters.snapshot() },
        };
      } catch (err) {
        app.log.warn({ err: (err as Error).message }, 'metrics unavailable');
        return unavailable('Stream metrics are unavailable: Redis is unreachable; retry later');
      }
    },
  });
}
