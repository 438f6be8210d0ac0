import { loadIngestConfig, type IngestConfig } from '../src/config.js';

/**
 * Config as main.ts would build it from the environment, pointed at a test Redis. Auth is off
 * unless `env` sets API_KEYS (auth.test.ts does).
 */
export function ingestConfig(redisUrl: string, env: Record<string, string> = {}): IngestConfig {
  const auth = env.API_KEYS || env.API_KEYS_FILE ? {} : { AUTH_DISABLED: 'true' };
  return loadIngestConfig({ REDIS_URL: redisUrl, LOG_LEVEL: 'silent', REDIS_STREAM: 'test_readings', ...auth, ...env });
}

export const seedReading = (overrides: Record<string, unknown> = {}) => ({
  site_id: 'site-001',
  device_id: 'device-001',
  power_reading: 1500.5,
  timestamp: new Date().toISOString(),
  ...overrides,
});
