import { ConfigError, createLogger, serveUntilSignal } from '@energy-pipeline/server-kit';
import { buildProcessApp } from './app.js';
import { loadProcessConfig, type ProcessConfig } from './config/config.js';
import { ProcessWorker } from './worker/worker.js';

let config: ProcessConfig;
try {
  config = loadProcessConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`process: ${err.message}`);
  process.exit(1);
}
const log = createLogger({ level: config.logLevel, format: config.logFormat });
const worker = new ProcessWorker(config, log.child({ component: 'worker' }));
const app = buildProcessApp(config, { worker, log });
// Drain the consumer before the server closes, so health stays truthful while it drains.
await serveUntilSignal(app, { ...config, onShutdown: () => worker.stop() });
worker.start();
log.info({ consumer: config.consumer.name, group: config.consumer.group, stream: config.consumer.stream }, 'consumer started');
