import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@energy-pipeline/server-kit';
import { loadIngestConfig } from '../src/config/config.js';
import { eventually, freePort, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { spawnService } from '../../scripts/lib/spawn-service.js';

describe('ingest configuration', () => {
  it("keeps the seed's variables and defaults", () => {
    const c = loadIngestConfig({ AUTH_DISABLED: 'true' });
    expect(c.redis).toMatchObject({ url: 'redis://localhost:6379', stream: 'energy_readings', group: 'processing_group' });
    expect(c.port).toBe(8000);
    const seed = loadIngestConfig({ REDIS_HOST: 'redis', REDIS_PORT: '6380', REDIS_STREAM: 's', REDIS_PASSWORD: 'p@ss', AUTH_DISABLED: 'true' });
    expect(seed.redis).toMatchObject({ url: 'redis://:p%40ss@redis:6380', stream: 's' });
    expect(loadIngestConfig({ REDIS_URL: 'rediss://r:1', REDIS_HOST: 'ignored', AUTH_DISABLED: 'true' }).redis.url).toBe('rediss://r:1');
  });

  it('names every bad variable at once', () => {
    const attempt = () => loadIngestConfig({ REDIS_PORT: 'abc', PORT: '70000', REDIS_URL: 'http://x', READING_MAX_AGE_S: '-1' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      for (const name of ['REDIS_PORT', 'PORT', 'REDIS_URL', 'READING_MAX_AGE_S']) expect((err as Error).message).toContain(name);
    }
  });
});

describe('ingest main', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => redis.stop());

  it('exits 1 with a message naming a bad variable', async () => {
    const svc = spawnService('ingest', { REDIS_PORT: 'six' });
    expect(await svc.exit).toBe(1);
    expect(svc.output()).toContain('REDIS_PORT');
  });

  it('serves on PORT and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const svc = spawnService('ingest', { REDIS_URL: redis.url, PORT: String(port), HOST: '127.0.0.1', AUTH_DISABLED: 'true' });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 20_000, 100);
      svc.child.kill('SIGTERM');
      expect(await svc.exit).toBe(0);
      expect(svc.output()).toContain('shutting down');
    } finally {
      svc.child.kill('SIGKILL');
    }
  });
});
