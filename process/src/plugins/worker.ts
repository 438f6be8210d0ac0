import fp from 'fastify-plugin';
import type { ProcessWorker } from '../worker/worker.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The consumer-group worker this server reports on; built and started by main.ts, closed with the app. */
    worker: ProcessWorker;
  }
}

/**
 * Hands the worker main.ts built to the server: health and metrics report on it through its
 * public interface, its commands are timed with the service's metrics, and it is closed
 * (drained, then disconnected) when the server closes.
 */
export const workerPlugin = fp<{ worker: ProcessWorker }>(
  async (app, { worker }) => {
    app.decorate('worker', worker);
    worker.instrumentRedis((redis, connection) => app.metrics.instrumentRedis(redis, connection));
    app.addHook('onClose', async () => {
      await worker.close();
    });
  },
  { name: 'ep-worker', fastify: '5.x', dependencies: ['ep-metrics'] },
);
