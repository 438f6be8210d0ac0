import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { processApp } from '../../test/support/process-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { hostileBody, hostileHeaders, hostileQuery } from '../../test/support/hostile.js';
import { processConfig } from './helpers.js';

/**
 * Generated malformed requests against the processor's HTTP API (running worker, real Redis):
 * any method, known and unknown paths, hostile headers, query strings and bodies. Never a 5xx,
 * never a crash, and nothing in Redis changes: the API only reads.
 */
let redis: TestRedis;
let app: FastifyInstance;
let sent = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  app = processApp(processConfig(redis.url));
  await app.ready();
  app.worker.start();
  await eventually(async () => (await app.inject({ method: 'GET', url: '/health' })).statusCode === 200);
  // The worker creates the group (and the stream) on its own schedule: let it, before counting keys.
  await eventually(async () => (await redis.client.exists('test_readings')) === 1);
});
afterAll(async () => {
  await app.close();
  await redis.stop();
});

const method = fc.constantFrom<NonNullable<InjectOptions['method']>>('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD');
const path = fc.oneof(
  fc.constantFrom(
    '/health', '/metrics', '/openapi.json', '/docs', '/docs/', '/docs/json', '/docs/static/..%2f..%2fpackage.json',
    '/docs/static/../../../etc/passwd', '//health', '/health/', '/HEALTH', '/%2e%2e/metrics', '/metrics%00', '/readings',
  ),
  fc.string({ unit: fc.constantFrom(...'abc019/._-%~'), maxLength: 40 }).map((s) => `/${s}`),
);

describe('hostile input to the processor', () => {
  it('answers generated requests without a 5xx and changes nothing in Redis', { timeout: 120_000 }, async () => {
    const before = await redis.client.dbsize();
    const streamBefore = await redis.client.xlen('test_readings');
    await fc.assert(
      fc.asyncProperty(method, path, hostileQuery, hostileHeaders, hostileBody(false), async (m, p, query, headers, payload) => {
        sent += 1;
        const withBody = m !== 'GET' && m !== 'HEAD';
        const res = await app.inject({ method: m, url: `${p}${query}`, headers, ...(withBody ? { payload } : {}) });
        expect(res.statusCode, `${m} ${p}${query}`).toBeLessThan(500);
      }),
      { numRuns: 2_500 },
    );
    expect(sent).toBeGreaterThanOrEqual(2_500);
    expect(await redis.client.dbsize()).toBe(before);
    expect(await redis.client.xlen('test_readings')).toBe(streamBefore);
    expect(({}) as Record<string, unknown>).not.toHaveProperty('polluted');
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });
});
