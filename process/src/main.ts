import { ConfigError, serveUntilSignal } from '@energy-pipeline/server-kit';
import { buildProcessApp } from './app.js';
import { loadProcessConfig, type ProcessConfig } from './config/config.js';

let config: ProcessConfig;
try {
  config = loadProcessConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`process: ${err.message}`);
  process.exit(1);
}
const app = buildProcessApp(config);
// Drain the consumer before the server closes, so health stays truthful while it drains.
await serveUntilSignal(app, { ...config, onShutdown: () => app.worker.stop() });
app.worker.start();
app.log.info({ consumer: config.consumer.name, group: config.consumer.group, stream: config.consumer.stream }, 'consumer started');
