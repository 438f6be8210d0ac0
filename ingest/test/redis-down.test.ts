import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '../src/app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { ingestConfig, seedReading } from './helpers.js';

let redis: TestRedis;
let app: FastifyInstance;

beforeAll(async () => {
  redis = await startRedisServer({ appendonly: true });
  app = buildIngestApp(ingestConfig(redis.url));
});
afterAll(async () => {
  await app.close();
  await redis.stop();
});

/** ep_redis_up from a Prometheus scrape. */
const redisUp = async () => {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: { accept: 'text/plain;version=0.0.4' } });
  expect(res.statusCode).toBe(200);
  return Number(/^ep_redis_up (\d+)$/m.exec(res.body)?.[1]);
};
const post = () => app.inject({ method: 'POST', url: '/readings', payload: seedReading() });

describe('when Redis goes away', () => {
  it('answers 503 with Retry-After promptly, reports unhealthy, and recovers when Redis is back', async () => {
    await eventually(async () => (await post()).statusCode === 202);
    await redis.kill();

    const started = Date.now();
    const res = await post();
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().error).toBe('unavailable');
    const batch = await app.inject({ method: 'POST', url: '/readings/batch', payload: { readings: [seedReading()] } });
    expect(batch.statusCode).toBe(503);
    expect(batch.headers['retry-after']).toBe('1');
    // Bounded by the command timeout (2 s), never a hang; usually immediate.
    expect(Date.now() - started).toBeLessThan(5_000);

    const health = await app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ status: 'unavailable', redis: 'down' });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(503);
    // A Prometheus scrape still answers, and says why writes fail.
    expect(await redisUp()).toBe(0);

    await redis.restart();
    await eventually(async () => (await post()).statusCode === 202, 15_000, 100);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect(await redisUp()).toBe(1);
    // The reading accepted before the crash survived it (appendonly, fsync always).
    expect(await redis.client.xlen('test_readings')).toBeGreaterThanOrEqual(2);
  });
});
