import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCompress from '@fastify/compress';
import { initServer } from '@ts-rest/fastify';
import { ingestContract } from '@energy-pipeline/contract';
import { authPlugin, createLogger, docsPlugin, httpDefaultsPlugin, metricsPlugin, requestValidationErrorHandler, serverOptions } from '@energy-pipeline/server-kit';
import type { IngestConfig } from './config/config.js';
import { readingCountersPlugin } from './plugins/reading-counters.js';
import { storePlugin } from './plugins/store.js';
import { writeLimitsPlugin } from './plugins/write-limits.js';
import { ingestRouter } from './routes.js';

/**
 * Builds the ingest API from its plugins, in the order their hooks run on a request: the shared
 * HTTP defaults and metrics, the Redis store, auth, then the write limits (which declare that
 * they need auth and the store before them), the counters, docs, and the contract's routes. It
 * never listens: main.ts does, tests use `app.inject`.
 */
export function buildIngestApp(config: IngestConfig, options: { logStream?: { write(line: string): void } } = {}): FastifyInstance {
  const log = createLogger({ level: config.logLevel, format: config.logFormat, ...(options.logStream ? { destination: options.logStream } : {}) });
  const app = Fastify(serverOptions(log, { bodyLimit: config.bodyLimitBytes, accessLog: config.accessLog }));
  app.register(httpDefaultsPlugin);
  app.register(metricsPlugin);
  app.register(storePlugin, { config });
  app.register(authPlugin, { auth: config.auth, realm: 'ingest' });
  app.register(writeLimitsPlugin, { limits: config.limits });
  app.register(readingCountersPlugin);
  // Gateways may gzip their batches; bodyLimitBytes then bounds the decompressed size.
  app.register(fastifyCompress, { globalCompression: false, requestEncodings: ['gzip', 'deflate'] });
  app.register(docsPlugin, { contract: ingestContract, info: { title: 'energy-pipeline ingest', version: '1' }, authEnabled: !config.auth.disabled });
  app.register(async (routes) => {
    await routes.register(initServer().plugin(ingestRouter(app, config)), { requestValidationErrorHandler, logInitialization: false });
  });
  return app;
}

export type { IngestConfig } from './config/config.js';
export { loadIngestConfig } from './config/config.js';
