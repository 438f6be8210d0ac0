import Fastify, { type FastifyInstance } from 'fastify';
import { initServer } from '@ts-rest/fastify';
import { closeRedis, createRedis, installAuth, installDocs, installEvictionPolicyCheck, installShardLayoutCheck, installHttpDefaults, requestValidationErrorHandler, serverOptions, waitReady } from '@energy-pipeline/server-kit';
import { processContract } from '@energy-pipeline/contract';
import type { ProcessConfig } from './config/config.js';
import { DeadLetters } from './queries/dead-letters.js';
import { Queries } from './queries/queries.js';
import { Shards } from './queries/shards.js';
import { processRouter } from './routes.js';
import { defineScripts } from './worker/scripts.js';
import { installProcessMetrics } from './plugins/metrics.js';
import { ProcessWorker } from './worker/worker.js';
import { installDashboard } from './plugins/dashboard.js';
import { installLive } from './live/plugin.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The consumer-group worker this server reports on; started by main.ts, closed with the app. */
    worker: ProcessWorker;
  }
}

export interface BuildOptions {
  /** Where log lines go instead of stdout (tests read them). */
  logStream?: { write(line: string): void };
}

/** Builds the processor: its worker (not started) and its HTTP API. It never listens. */
export function buildProcessApp(config: ProcessConfig, options: BuildOptions = {}): FastifyInstance {
  const app = Fastify(serverOptions(config.logLevel, undefined, options.logStream, config.logFormat));
  const worker = new ProcessWorker(config, app.log.child({ component: 'worker' }));
  // The API's own connection: a slow query never delays the worker's acknowledgements.
  const redis = defineScripts(
    createRedis({
      url: config.redis.url,
      clusterNodes: config.redis.clusterNodes,
      role: 'commands',
      name: `ep-process-${config.consumer.name}-api`,
      commandTimeoutMs: config.redis.commandTimeoutMs,
    }),
  );
  const shards = new Shards(redis, config.redis.streams, config.consumer.group);

  app.decorate('worker', worker);
  installHttpDefaults(app);
  installAuth(app, config.auth, 'processor');
  installProcessMetrics(app, redis, config, worker);
  installDocs(app, processContract, { title: 'energy-pipeline processor', version: '1' });
  app.addHook('onReady', async () => {
    await waitReady(redis, 3_000).catch(() => app.log.warn('Redis is not reachable yet'));
  });
  installEvictionPolicyCheck(app, redis, config.redis.allowEviction);
  installShardLayoutCheck(app, redis, config.redis.stream, config.redis.streams.length);
  app.addHook('onClose', async () => {
    await worker.close();
    await closeRedis(redis);
  });

  installLive(app, config, redis, shards);
  installDashboard(app);
  const router = processRouter({
    config,
    redis,
    worker,
    shards,
    queries: new Queries(redis, shards, config.queryMaxPoints),
    deadLetters: new DeadLetters(redis, shards),
    log: app.log,
    startedAt: Date.now(),
  });
  app.register(initServer().plugin(router), { requestValidationErrorHandler, logInitialization: false });
  return app;
}

export type { ProcessConfig } from './config/config.js';
export { loadProcessConfig } from './config/config.js';
