import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '@energy-pipeline/server-kit';
import { loadProcessConfig } from '../src/config/config.js';
import { eventually, freePort, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { spawnService } from '../../scripts/lib/spawn-service.js';
import { GROUP, STREAM, addReadings, keys, reading } from './helpers.js';

describe('process configuration', () => {
  it("keeps the seed's variables and defaults", () => {
    const c = loadProcessConfig({ CONSUMER_NAME: 'pod-1', AUTH_DISABLED: 'true' });
    expect(c.consumer).toMatchObject({ stream: 'energy_readings', group: 'processing_group', name: 'pod-1' });
    expect(c.port).toBe(8001);
    expect(loadProcessConfig({ AUTH_DISABLED: 'true' }).consumer.name.length).toBeGreaterThan(0); // the hostname
  });

  it('fails closed: no API key configured is an error unless AUTH_DISABLED=true', () => {
    expect(() => loadProcessConfig({})).toThrow(/API_KEYS: no API key configured/);
    expect(loadProcessConfig({ AUTH_DISABLED: 'true' }).auth).toEqual({ keys: [], disabled: true });
    const keys = loadProcessConfig({ API_KEYS: `${hashToken('r')}@read ${hashToken('w')}` }).auth.keys;
    expect(keys.map((k) => [...k.scopes])).toEqual([['read'], ['write']]);
    expect(() => loadProcessConfig({ API_KEYS: `${hashToken('a')}@admin:site-1` })).toThrow(/API_KEYS: .*admin scope and a site list/);
  });

  it('names every bad variable at once', () => {
    expect(() => loadProcessConfig({ READ_BLOCK_MS: '0', CONSUMER_NAME: 'a b' })).toThrow(/READ_BLOCK_MS[\s\S]*CONSUMER_NAME|CONSUMER_NAME[\s\S]*READ_BLOCK_MS/);
  });
});

describe('process main', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => redis.stop());

  it('refuses to start without an API key, naming API_KEYS', async () => {
    const svc = spawnService('process', { REDIS_URL: redis.url, PORT: String(await freePort()), HOST: '127.0.0.1' });
    expect(await svc.exit).toBe(1);
    expect(svc.output()).toMatch(/process: Invalid configuration:\s+API_KEYS: no API key configured/);
  });

  it('consumes, serves health, and on SIGTERM drains and exits 0', async () => {
    const port = await freePort();
    const svc = spawnService('process', {
      REDIS_URL: redis.url, PORT: String(port), HOST: '127.0.0.1', API_KEYS: `${hashToken('reader')}@read`,
      REDIS_STREAM: STREAM, CONSUMER_GROUP: GROUP, CONSUMER_NAME: 'main-test',
    });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 20_000, 100);
      await addReadings(redis.client, [reading(1), reading(2)]);
      await eventually(async () => (await redis.client.hget(keys.stats, 'processed')) === '2');
      expect((await fetch(`http://127.0.0.1:${port}/sites`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/sites`, { headers: { authorization: 'Bearer reader' } })).status).toBe(200);
      svc.child.kill('SIGTERM');
      expect(await svc.exit).toBe(0);
    } finally {
      svc.child.kill('SIGKILL');
    }
  });
});
