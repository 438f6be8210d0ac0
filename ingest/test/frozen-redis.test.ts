import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '../src/app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { storedReadings } from '../../test/support/stream.js';
import { ingestConfig, seedReading } from './helpers.js';

/** The documented bound: a write is answered within REDIS_COMMAND_TIMEOUT_MS of its arrival. */
const BOUND_MS = 1_000;
let redis: TestRedis;
let app: FastifyInstance;

beforeAll(async () => {
  redis = await startRedisServer();
  // Rate limits on (the default), so the limiter's own Redis call is part of the budget.
  app = buildIngestApp(ingestConfig(redis.url, { REDIS_COMMAND_TIMEOUT_MS: String(BOUND_MS) }));
  await app.ready();
});
afterAll(async () => {
  redis.thaw();
  await app.close();
  await redis.stop();
});

async function timedPost(url: string, payload: object) {
  const started = performance.now();
  const res = await app.inject({ method: 'POST', url, payload });
  return { res, ms: performance.now() - started };
}

describe('a frozen Redis (SIGSTOP)', () => {
  it('gets each write a 503 within the bound that says the outcome is unknown, then 503s at once until Redis answers', async () => {
    await eventually(async () => (await app.inject({ method: 'POST', url: '/readings', payload: seedReading() })).statusCode === 202);
    redis.freeze();
    try {
      // Until the breaker opens, each write waits out its budget: the reading was sent, so it may be stored.
      for (let i = 0; i < 2; i++) {
        const { res, ms } = await timedPost('/readings', seedReading({ reading_id: `frozen-${i}` }));
        expect(res.statusCode).toBe(503);
        expect(ms).toBeLessThan(BOUND_MS + 500);
        expect(res.json()).toMatchObject({ error: 'unavailable', outcome: 'unknown', message: expect.stringContaining('may have been stored') });
      }
      const unknownBatch = await timedPost('/readings/batch', { readings: [seedReading({ reading_id: 'frozen-2' })] });
      expect(unknownBatch.res.statusCode).toBe(503);
      expect(unknownBatch.ms).toBeLessThan(BOUND_MS + 500);
      expect(unknownBatch.res.json()).toMatchObject({ outcome: 'unknown', message: expect.stringContaining('may have been stored') });
      // Open: answered without waiting, and honestly "nothing was stored".
      const { res, ms } = await timedPost('/readings', seedReading({ reading_id: 'after-open' }));
      expect(res.statusCode).toBe(503);
      expect(ms).toBeLessThan(BOUND_MS / 2);
      expect(res.json()).toMatchObject({ outcome: 'not_stored', message: expect.stringContaining('nothing was stored') });
      const batch = await timedPost('/readings/batch', { readings: [seedReading({ reading_id: 'batch-open' })] });
      expect(batch.res.statusCode).toBe(503);
      expect(batch.res.json().outcome).toBe('not_stored');
      expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ redis: 'down' });
    } finally {
      redis.thaw();
    }
    await eventually(async () => (await app.inject({ method: 'POST', url: '/readings', payload: seedReading() })).statusCode === 202, 10_000, 100);
    // "unknown" was the truth: the three writes Redis had read were executed once it woke up;
    // the refused ones were never sent.
    const ids = (await storedReadings(redis.client, 'test_readings')).map((r) => r.fields.reading_id);
    expect(ids).toEqual(expect.arrayContaining(['frozen-0', 'frozen-1', 'frozen-2']));
    expect(ids).not.toContain('after-open');
    expect(ids).not.toContain('batch-open');
  });
});

describe('a service started while Redis is frozen', () => {
  it('refuses writes with nothing sent: outcome not_stored', async () => {
    redis.freeze();
    try {
      const fresh = buildIngestApp(ingestConfig(redis.url, { REDIS_COMMAND_TIMEOUT_MS: String(BOUND_MS) }));
      // A new app's connection is not ready while Redis is frozen: nothing can be sent.
      const res = await fresh.inject({ method: 'POST', url: '/readings/batch', payload: { readings: [seedReading()] } });
      expect(res.statusCode).toBe(503);
      expect(res.json().outcome).toBe('not_stored');
      await fresh.close();
    } finally {
      redis.thaw();
    }
  });
});
