import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { ingestKeys, layoutKey } from '@energy-pipeline/server-kit';
import { buildIngestApp } from '../src/app.js';
import { hashToken } from '@energy-pipeline/server-kit';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { hostileBody, hostileHeaders, hostileQuery } from '../../test/support/hostile.js';
import { ingestConfig } from './helpers.js';

/**
 * Thousands of generated malformed requests against the real app and a real Redis: never a
 * 5xx, never a crash, nothing stored. Auth is on (most requests carry a valid key, so their
 * bodies get parsed and validated); the rate limit and overload shedding are off, so that
 * every request reaches validation instead of being refused early.
 */
const TOKEN = 'fuzz-token-0123456789abcdef';
let redis: TestRedis;
let app: FastifyInstance;
let sent = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  app = buildIngestApp(
    ingestConfig(redis.url, { API_KEYS: hashToken(TOKEN), RATE_LIMIT_MAX: '0', MAX_EVENT_LOOP_DELAY_MS: '0' }),
  );
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await redis.stop();
});

const base = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function send(options: InjectOptions) {
  sent += 1;
  const res = await app.inject(options);
  if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${options.method} ${options.url}: ${res.body.slice(0, 300)}`);
  // A well-formed batch of bad readings is a 200 whose every item was rejected.
  if (options.url === '/readings/batch' && res.statusCode === 200) {
    expect(res.json().accepted).toBe(0);
    return;
  }
  expect(res.statusCode).toBeGreaterThanOrEqual(400);
  // Every refusal has the shared error body.
  expect(typeof res.json().error).toBe('string');
}

const writeRoute = fc.constantFrom('/readings', '/readings/batch');

describe('hostile input to ingest', () => {
  it('answers generated malformed readings with a 4xx', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(false), (payload) => send({ method: 'POST', url: '/readings', headers: base, payload })),
      { numRuns: 3_000 },
    );
  });

  it('answers generated malformed batches with a 4xx or per-item rejections, storing nothing', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(true), async (payload) => {
        sent += 1;
        const res = await app.inject({ method: 'POST', url: '/readings/batch', headers: base, payload });
        expect(res.statusCode).toBeLessThan(500);
        if (res.statusCode === 200) expect(res.json().accepted).toBe(0);
      }),
      { numRuns: 2_500 },
    );
  });

  it('answers generated headers with a 4xx', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(writeRoute, hostileHeaders, hostileBody(false), (url, headers, payload) =>
        send({ method: 'POST', url, headers: { ...base, ...headers }, payload }),
      ),
      { numRuns: 1_500 },
    );
  });

  it('answers generated query strings on every route without a 5xx', { timeout: 120_000 }, async () => {
    const route = fc.constantFrom('/readings', '/readings/batch', '/health', '/metrics', '/openapi.json', '/nope');
    await fc.assert(
      fc.asyncProperty(route, hostileQuery, hostileBody(false), async (url, query, payload) => {
        sent += 1;
        const post = url.startsWith('/readings');
        const res = await app.inject({ method: post ? 'POST' : 'GET', url: `${url}${query}`, headers: base, ...(post ? { payload } : {}) });
        expect(res.statusCode).toBeLessThan(500);
        if (url === '/readings') expect(res.statusCode).toBeGreaterThanOrEqual(400);
        if (url === '/readings/batch' && res.statusCode === 200) expect(res.json().accepted).toBe(0);
      }),
      { numRuns: 1_000 },
    );
  });

  it('stored nothing, and still serves', { timeout: 120_000 }, async () => {
    expect(sent).toBeGreaterThanOrEqual(8_000);
    // Nothing but what the service records when it starts: the shard layout and the dedupe format.
    expect((await redis.client.keys('*')).sort()).toEqual([layoutKey('test_readings'), ingestKeys('test_readings').dedupeFormat].sort());
    expect(({}) as Record<string, unknown>).not.toHaveProperty('polluted');
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });
});
