import { loadIngestConfig, type IngestConfig } from '../src/config.js';

/** Config as main.ts would build it from the environment, pointed at a test Redis. */
export function ingestConfig(redisUrl: string, env: Record<string, string> = {}): IngestConfig {
  return loadIngestConfig({ REDIS_URL: redisUrl, LOG_LEVEL: 'silent', REDIS_STREAM: 'test_readings', ...env });
}

export const seedReading = (overrides: Record<string, unknown> = {}) => ({
  site_id: 'site-001',
  device_id: 'device-001',
  power_reading: 1500.5,
  timestamp: new Date().toISOString(),
  ...overrides,
});
