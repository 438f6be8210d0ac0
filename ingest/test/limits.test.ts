import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '../src/app.js';
import { hashToken, RATE_LIMIT_KEY_PREFIX } from '@energy-pipeline/server-kit';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { storedReadings } from '../../test/support/stream.js';
import { ingestConfig, seedReading } from './helpers.js';

const stream = 'test_readings';
const group = 'processing_group';
let redis: TestRedis;
const apps: FastifyInstance[] = [];

async function start(env: Record<string, string>) {
  const app = buildIngestApp(ingestConfig(redis.url, env));
  apps.push(app);
  await app.ready();
  return app;
}

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await redis.stop();
});
beforeEach(async () => {
  await redis.client.flushdb();
});

const post = (app: FastifyInstance, headers: Record<string, string> = {}, payload: unknown = seedReading()) =>
  app.inject({ method: 'POST', url: '/readings', headers: { 'content-type': 'application/json', ...headers }, payload: payload as string });

describe('per-key rate limits', () => {
  const A = 'rate-token-a-3c1d5e7f9a0b';
  const B = 'rate-token-b-8e6d4c2b0a19';
  const env = { API_KEYS: `${hashToken(A)} ${hashToken(B)}`, RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_S: '60' };

  it('answers 429 with Retry-After past the limit, counted in Redis per request across replicas (RATE_LIMIT_SYNC_MS=0), per key', async () => {
    const [one, two] = [await start({ ...env, RATE_LIMIT_SYNC_MS: '0' }), await start({ ...env, RATE_LIMIT_SYNC_MS: '0' })];
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const first = await post(one, auth(A));
    expect(first.statusCode).toBe(202);
    // Accepted writes carry no rate-limit headers; the 429 carries them all.
    expect(Object.keys(first.headers).filter((h) => h.startsWith('x-ratelimit'))).toEqual([]);
    expect((await post(two, auth(A))).statusCode).toBe(202);
    expect((await post(one, auth(A))).statusCode).toBe(202);
    const limited = await post(two, auth(A));
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers).toMatchObject({ 'x-ratelimit-limit': '3', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': expect.any(String) });
    expect(limited.json()).toMatchObject({ error: 'rate_limited', message: expect.stringContaining('Rate limit') });
    // Another key has its own budget; health is never limited.
    expect((await post(two, auth(B))).statusCode).toBe(202);
    for (let i = 0; i < 5; i++) expect((await one.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect(await redis.client.xlen(stream)).toBe(4);
    const m = (await two.inject({ method: 'GET', url: '/metrics' })).json();
    expect(m.readings.rejected_by_reason.rate_limited).toBe(1);
  });

  it('counts in memory and shares the counts through Redis: one replica is exact, two learn of each other at their next sync', async () => {
    const synced = { ...env, RATE_LIMIT_SYNC_MS: '20' };
    const [one, two] = [await start(synced), await start(synced)];
    const auth = { authorization: `Bearer ${A}` };
    const keys = async () => redis.client.keys(`${RATE_LIMIT_KEY_PREFIX}*`);
    for (let i = 0; i < 3; i++) expect((await post(one, auth)).statusCode).toBe(202);
    expect((await post(one, auth)).statusCode).toBe(429);
    await eventually(async () => ((await keys()).length === 1 ? true : null));
    const [key] = await keys();
    await eventually(async () => Number(await redis.client.get(key!)) === 4);
    // Two had counted nothing of this key: its first request passes (the bound: one sync
    // interval's worth per replica), and from its sync on it knows the key is past its limit.
    const first = await post(two, auth);
    expect(first.statusCode).toBe(202);
    await eventually(async () => Number(await redis.client.get(key!)) === 5);
    expect((await post(two, auth)).statusCode).toBe(429);
    expect(await redis.client.xlen(stream)).toBe(4);
  });
});

describe('backpressure', () => {
  it('answers 503 with Retry-After while the consumer backlog is past MAX_BACKLOG, and accepts again once it drains', async () => {
    const app = await start({ MAX_BACKLOG: '5', BACKLOG_CHECK_INTERVAL_MS: '20', BACKLOG_RETRY_AFTER_S: '7' });
    await redis.client.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
    for (let i = 0; i < 6; i++) await redis.client.xadd(stream, '*', 'f', String(i));

    const refused = await eventually(async () => {
      const res = await post(app);
      return res.statusCode === 503 ? res : null;
    });
    expect(refused.headers['retry-after']).toBe('7');
    expect(refused.json()).toMatchObject({ error: 'unavailable', message: expect.stringContaining('backlog') });
    // (Writes before the background check noticed were accepted: the check is eventual by design.)
    const length = await redis.client.xlen(stream);
    const batch = await app.inject({ method: 'POST', url: '/readings/batch', payload: { readings: [seedReading()] } });
    expect(batch.statusCode).toBe(503);
    expect(batch.headers['retry-after']).toBe('7');
    expect(await redis.client.xlen(stream)).toBe(length);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);

    // The processor catches up: everything delivered and acknowledged.
    await redis.client.xgroup('SETID', stream, group, '$');
    await eventually(async () => (await post(app)).statusCode === 202);
  });

  it('counts a stream with no consumer group yet as backlog in full', async () => {
    const app = await start({ MAX_BACKLOG: '2', BACKLOG_CHECK_INTERVAL_MS: '20' });
    for (let i = 0; i < 3; i++) await redis.client.xadd(stream, '*', 'f', String(i));
    await eventually(async () => (await post(app)).statusCode === 503);
  });

  it('sheds writes with 503 and Retry-After when the process is overloaded (@fastify/under-pressure), not health', async () => {
    // A heap limit of one byte is always exceeded: the deterministic stand-in for a stalled event loop.
    const app = await start({ MAX_HEAP_USED_BYTES: '1' });
    const refused = await eventually(async () => {
      const res = await post(app);
      return res.statusCode === 503 ? res : null;
    });
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json()).toMatchObject({ error: 'unavailable', message: expect.stringContaining('overloaded') });
    const length = await redis.client.xlen(stream);
    expect((await post(app)).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect(await redis.client.xlen(stream)).toBe(length);
  });
});

describe('the order the write limits apply in', () => {
  // auth (401, 403) → Redis and backlog (503) → overload (503) → rate limit (429): a refusal that
  // needs no Redis comes first, and a request refused for load never spends the key's budget.
  it('answers 401, then 403, then 503 for the backlog, then 429, each while every later limit is also hit', async () => {
    const WRITER = 'order-writer-5b7d9f1a3c2e';
    const READER = 'order-reader-7e9a1c3b5d2f';
    const app = await start({
      API_KEYS: `${hashToken(WRITER)} ${hashToken(READER)}@read`,
      RATE_LIMIT_MAX: '1',
      RATE_LIMIT_WINDOW_S: '60',
      MAX_BACKLOG: '1',
      BACKLOG_CHECK_INTERVAL_MS: '20',
    });
    const writer = { authorization: `Bearer ${WRITER}` };
    // The writer spends its whole budget while the backlog is still under the limit.
    expect((await post(app, writer)).statusCode).toBe(202);
    expect((await post(app, writer)).statusCode).toBe(429);
    for (let i = 0; i < 3; i++) await redis.client.xadd(stream, '*', 'f', String(i));
    const backlogged = await eventually(async () => {
      const res = await post(app, writer);
      return res.statusCode === 503 ? res : null;
    });
    expect(backlogged.json()).toMatchObject({ error: 'unavailable', message: expect.stringContaining('backlog') });
    // Backlogged and out of budget: no key is still 401 and a read key still 403, before any Redis.
    expect((await post(app)).statusCode).toBe(401);
    expect((await post(app, { authorization: 'Bearer not-a-key-at-all-0000' })).statusCode).toBe(401);
    expect((await post(app, { authorization: `Bearer ${READER}` })).json()).toMatchObject({ error: 'forbidden' });
    // The backlog drains: the rate limit is what is left.
    await redis.client.xgroup('CREATE', stream, group, '$');
    const limited = await eventually(async () => {
      const res = await post(app, writer);
      return res.statusCode === 429 ? res : null;
    });
    expect(limited.json()).toMatchObject({ error: 'rate_limited' });
    expect(await redis.client.xlen(stream)).toBe(4);
  });

  it('sheds an overloaded process with 503 before counting the request against the key', async () => {
    const WRITER = 'order-writer-2c4e6a8b0d1f';
    const app = await start({ API_KEYS: hashToken(WRITER), RATE_LIMIT_MAX: '1', RATE_LIMIT_SYNC_MS: '10', MAX_HEAP_USED_BYTES: '1' });
    const synced = () => new Promise((r) => setTimeout(r, 150));
    const writer = { authorization: `Bearer ${WRITER}` };
    // (Requests before under-pressure's first sample may pass and be counted.)
    await eventually(async () => (await post(app, writer)).statusCode === 503);
    const counted = async () => {
      const keys = await redis.client.keys(`${RATE_LIMIT_KEY_PREFIX}*`);
      return keys.length === 0 ? [] : await redis.client.mget(keys);
    };
    await synced();
    const before = await counted();
    for (let i = 0; i < 3; i++) expect((await post(app, writer)).statusCode).toBe(503);
    expect((await post(app)).statusCode).toBe(401);
    await synced();
    // The rate limiter never saw the shed requests: the key's count did not move.
    expect(await counted()).toEqual(before);
  });
});

describe('request bodies', () => {
  it('accepts gzip- and deflate-compressed bodies on both routes', async () => {
    const app = await start({});
    const gz = (o: object) => gzipSync(JSON.stringify(o));
    const single = await post(app, { 'content-encoding': 'gzip' }, gz(seedReading()));
    expect(single.statusCode).toBe(202);
    const readings = Array.from({ length: 200 }, (_, i) => seedReading({ device_id: `d${i}` }));
    const batch = await app.inject({
      method: 'POST', url: '/readings/batch', payload: gz({ readings }),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(batch.statusCode).toBe(200);
    expect(batch.json().accepted).toBe(200);
    expect(await storedReadings(redis.client, stream)).toHaveLength(201);
  });

  it('answers a gzip bomb with 413, corrupt gzip with 400 and an unknown encoding with 415', async () => {
    const app = await start({ BODY_LIMIT_BYTES: '65536' });
    // 64 KiB compressed to a few hundred bytes, then past the limit once inflated.
    const bomb = gzipSync(Buffer.from(`{"readings":[${'1,'.repeat(200_000)}1]}`));
    expect(bomb.length).toBeLessThan(65536);
    const big = await post(app, { 'content-encoding': 'gzip' }, bomb);
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toBe('payload_too_large');
    const corrupt = await post(app, { 'content-encoding': 'gzip' }, JSON.stringify(seedReading()));
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json().error).toBe('bad_request');
    const unknown = await post(app, { 'content-encoding': 'compress' }, JSON.stringify(seedReading()));
    expect(unknown.statusCode).toBe(415);
    expect(unknown.json().error).toBe('unsupported_media_type');
    expect(await redis.client.xlen(stream)).toBe(0);
  });
});
