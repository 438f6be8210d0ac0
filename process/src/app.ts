import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { initServer } from '@ts-rest/fastify';
import { processContract } from '@energy-pipeline/contract';
import { authPlugin, createLogger, docsPlugin, httpDefaultsPlugin, metricsPlugin, requestValidationErrorHandler, serverOptions } from '@energy-pipeline/server-kit';
import type { ProcessConfig } from './config/config.js';
import { livePlugin } from './live/plugin.js';
import { dashboardPlugin } from './plugins/dashboard.js';
import { processMetricsPlugin } from './plugins/metrics.js';
import { storePlugin } from './plugins/store.js';
import { workerPlugin } from './plugins/worker.js';
import { processRouter } from './routes.js';
import type { ProcessWorker } from './worker/worker.js';

export interface BuildOptions {
  /** The consumer-group worker (main.ts builds it and starts it); the server reports on it and closes it. */
  worker: ProcessWorker;
  /** The logger the worker logs to as well (createLogger). @default a JSON logger at LOG_LEVEL on stdout */
  log?: FastifyBaseLogger;
}

/**
 * Builds the processor's server from its plugins: the shared HTTP defaults and metrics, the API's
 * Redis store, auth, the worker it reports on and its metrics, docs, the live side (tRPC), the
 * dashboard and the contract's routes. It never listens and never starts the worker: main.ts does.
 */
export function buildProcessApp(config: ProcessConfig, { worker, log }: BuildOptions): FastifyInstance {
  const app = Fastify(serverOptions(log ?? createLogger({ level: config.logLevel, format: config.logFormat }), { accessLog: config.accessLog }));
  app.register(httpDefaultsPlugin);
  app.register(metricsPlugin);
  app.register(storePlugin, { config });
  app.register(authPlugin, { auth: config.auth, realm: 'processor' });
  app.register(workerPlugin, { worker });
  app.register(processMetricsPlugin, { config });
  app.register(docsPlugin, { contract: processContract, info: { title: 'energy-pipeline processor', version: '1' }, authEnabled: !config.auth.disabled });
  app.register(livePlugin, { config });
  app.register(dashboardPlugin);
  app.register(async (routes) => {
    await routes.register(initServer().plugin(processRouter(app, config)), { requestValidationErrorHandler, logInitialization: false });
  });
  return app;
}

export type { ProcessConfig } from './config/config.js';
export { loadProcessConfig } from './config/config.js';
export { ProcessWorker } from './worker/worker.js';
