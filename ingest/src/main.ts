import { ConfigError, serveUntilSignal } from '@energy-pipeline/server-kit';
import { buildIngestApp } from './app.js';
import { loadIngestConfig, type IngestConfig } from './config/config.js';

let config: IngestConfig;
try {
  config = loadIngestConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`ingest: ${err.message}`);
  process.exit(1);
}
await serveUntilSignal(buildIngestApp(config), config);
