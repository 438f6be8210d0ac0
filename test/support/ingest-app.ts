import { loadIngestConfig, type IngestConfig } from '../../ingest/src/config/config.js';

/**
 * Config as main.ts would build it from the environment, pointed at a test Redis. Auth is off
 * unless `env` sets API_KEYS (auth.test.ts does).
 */
export function ingestConfig(redisUrl: string, env: Record<string, string> = {}): IngestConfig {
  const auth = env.API_KEYS || env.API_KEYS_FILE ? {} : { AUTH_DISABLED: 'true' };
  return loadIngestConfig({ REDIS_URL: redisUrl, LOG_LEVEL: 'silent', REDIS_STREAM: 'test_readings', ...auth, ...env });
}

let lastMs = 0;
/**
 * The seed's example reading, now. Each call gets a later timestamp than the one before: a
 * reading without seq is identified by its device and timestamp, so two calls in the same
 * millisecond would otherwise be one reading sent twice.
 */
export const seedReading = (overrides: Record<string, unknown> = {}) => {
  lastMs = Math.max(Date.now(), lastMs + 1);
  return {
    site_id: 'site-001',
    device_id: 'device-001',
    power_reading: 1500.5,
    timestamp: new Date(lastMs).toISOString(),
    ...overrides,
  };
};
