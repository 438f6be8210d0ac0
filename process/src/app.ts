import Fastify, { type FastifyInstance } from 'fastify';
import { initServer } from '@ts-rest/fastify';
import { processContract } from '@energy-pipeline/contract';
import {
  closeRedis,
  createRedis,
  installDocs,
  installHttpDefaults,
  requestValidationErrorHandler,
  serverOptions,
  waitReady,
} from '@energy-pipeline/contract/server';
import type { ProcessConfig } from './config.js';
import { installProcessMetrics } from './metrics.js';
import { readStreamStats } from './stream-stats.js';
import { ProcessWorker } from './worker.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The consumer-group worker this server reports on; started by main.ts, closed with the app. */
    worker: ProcessWorker;
  }
}

/** Builds the processor: its worker (not started) and its HTTP API. It never listens. */
export function buildProcessApp(config: ProcessConfig): FastifyInstance {
  const app = Fastify(serverOptions(config.logLevel));
  const worker = new ProcessWorker(config, app.log.child({ component: 'worker' }));
  const redis = createRedis({
    url: config.redis.url,
    role: 'commands',
    name: `ep-process-${config.consumer.name}-api`,
    commandTimeoutMs: config.redis.commandTimeoutMs,
  });
  const { stream, group, name } = config.consumer;
  const startedAt = Date.now();

  app.decorate('worker', worker);
  installHttpDefaults(app);
  installProcessMetrics(app, redis, config.consumer, worker);
  installDocs(app, processContract, { title: 'energy-pipeline processor', version: '1' });
  app.addHook('onReady', async () => {
    await waitReady(redis, 3_000).catch(() => app.log.warn('Redis is not reachable yet'));
  });
  app.addHook('onClose', async () => {
    await worker.close();
    await closeRedis(redis);
  });

  const s = initServer();
  const router = s.router(processContract, {
    health: async () => {
      const pending = await (redis.call('XPENDING', stream, group) as Promise<[number, unknown, unknown, [string, string][] | null]>)
        .then((summary) => Number(summary[3]?.find(([consumer]) => consumer === name)?.[1] ?? 0))
        .catch((err: Error) => (/NOGROUP|no such key/i.test(err.message) ? 0 : null));
      const status = worker.status();
      const up = pending !== null;
      const body = {
        status: up && status.running ? ('ok' as const) : ('unavailable' as const),
        redis: up ? ('up' as const) : ('down' as const),
        consumer: name,
        group,
        running: status.running,
        pending,
        last_activity: status.lastActivity?.toISOString() ?? null,
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
      };
      return body.status === 'ok' ? { status: 200, body } : { status: 503, body };
    },
    metrics: async () => {
      try {
        const stats = await readStreamStats(redis, config.consumer);
        const own = worker.status();
        return {
          status: 200,
          body: {
            stream: stats.stream,
            group: stats.group,
            processed: { total: stats.totals.processed, by_this_consumer: own.processed, invalid: stats.totals.invalid },
          },
        };
      } catch (err) {
        app.log.warn({ err: (err as Error).message }, 'metrics unavailable');
        return { status: 503, body: { error: 'unavailable', message: 'Stream metrics are unavailable: Redis is unreachable' } };
      }
    },
  });

  app.register(s.plugin(router), { requestValidationErrorHandler, logInitialization: false });
  return app;
}

export type { ProcessConfig } from './config.js';
export { loadProcessConfig } from './config.js';
