import type { FastifyInstance } from 'fastify';
import { createLogger } from '@energy-pipeline/server-kit';
import { buildProcessApp, loadProcessConfig, type ProcessConfig, ProcessWorker } from '../../process/src/app.js';

/**
 * The processor as main.ts assembles it: a logger, the worker (not started: `app.worker.start()`),
 * and the server that reports on it and closes it. `logStream` collects the log lines.
 */
export function processApp(config: ProcessConfig, options: { logStream?: { write(line: string): void } } = {}): FastifyInstance {
  const log = createLogger({ level: config.logLevel, format: config.logFormat, ...(options.logStream ? { destination: options.logStream } : {}) });
  const worker = new ProcessWorker(config, log.child({ component: 'worker' }));
  return buildProcessApp(config, { worker, log });
}

export const STREAM = 'test_readings';
export const GROUP = 'test_group';

/**
 * Config as main.ts would build it from the environment, pointed at a test Redis. Auth is off
 * unless `env` sets API_KEYS or API_KEYS_FILE (auth.test.ts does).
 */
export function processConfig(redisUrl: string, env: Record<string, string> = {}): ProcessConfig {
  const auth = env.API_KEYS || env.API_KEYS_FILE ? {} : { AUTH_DISABLED: 'true' };
  return loadProcessConfig({
    ...auth,
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'silent',
    REDIS_STREAM: STREAM,
    CONSUMER_GROUP: GROUP,
    CONSUMER_NAME: 'consumer-a',
    READ_BLOCK_MS: '200',
    ...env,
  });
}
