import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { hashTag, ingestKeys } from '@energy-pipeline/contract/server';
import { buildIngestApp } from '../src/app.js';
import { loadIngestConfig } from '../src/config.js';
import { eventually, startRedisServer, type TestRedis } from '../../test/support/redis-server.js';
import { ingestConfig, seedReading } from './helpers.js';

const stream = 'test_readings';
const WINDOW_S = 3600;
let redis: TestRedis;
let app: FastifyInstance;
let replica: FastifyInstance;

beforeAll(async () => {
  redis = await startRedisServer();
  const env = { IDEMPOTENCY_WINDOW_S: String(WINDOW_S), READING_MAX_AGE_S: String(WINDOW_S - 600) };
  app = buildIngestApp(ingestConfig(redis.url, env));
  replica = buildIngestApp(ingestConfig(redis.url, env));
  await Promise.all([app.ready(), replica.ready()]);
});
afterAll(async () => {
  await Promise.all([app.close(), replica.close()]);
  await redis.stop();
});
beforeEach(async () => {
  await redis.client.flushdb();
});

const post = (payload: object, to = app) => to.inject({ method: 'POST', url: '/readings', payload });
const postBatch = (readings: object[]) => app.inject({ method: 'POST', url: '/readings/batch', payload: { readings } });

describe('reading_id makes retries idempotent', () => {
  it('answers a repeat with the same 202 body and the original stream id, and stores it once', async () => {
    const reading = seedReading({ reading_id: 'r-42' });
    const first = await post(reading);
    const again = await post({ ...reading, power_reading: 1 });
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await redis.client.xlen(stream)).toBe(1);
  });

  it('remembers the id for the configured window, beside the stream in its hash slot', async () => {
    const reading = seedReading({ reading_id: 'r-ttl' });
    const id = (await post(reading)).json().stream_id;
    const key = ingestKeys(stream).readingId(reading.site_id, reading.device_id, 'r-ttl');
    expect(key).toContain(hashTag(stream));
    expect(await redis.client.get(key)).toBe(id);
    const ttl = await redis.client.ttl(key);
    expect(ttl).toBeGreaterThan(WINDOW_S - 60);
    expect(ttl).toBeLessThanOrEqual(WINDOW_S);
    // Once the window has passed (here: the key expired), the same id is a new reading.
    await redis.client.del(key);
    expect((await post(reading)).json().stream_id).not.toBe(id);
    expect(await redis.client.xlen(stream)).toBe(2);
  });

  it('scopes reading_id by site and device', async () => {
    await post(seedReading({ reading_id: 'same', device_id: 'a' }));
    await post(seedReading({ reading_id: 'same', device_id: 'b' }));
    await post(seedReading({ reading_id: 'same', site_id: 'other', device_id: 'a' }));
    expect(await redis.client.xlen(stream)).toBe(3);
  });

  it('stores readings without reading_id every time', async () => {
    const reading = seedReading();
    await post(reading);
    await post(reading);
    expect(await redis.client.xlen(stream)).toBe(2);
  });

  it('stores one of many concurrent retries, on two replicas, and answers all with its id', async () => {
    const reading = seedReading({ reading_id: 'burst' });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post(reading, i % 2 ? app : replica)));
    expect(answers.every((a) => a.statusCode === 202)).toBe(true);
    expect(new Set(answers.map((a) => a.json().stream_id)).size).toBe(1);
    expect(await redis.client.xlen(stream)).toBe(1);
  });

  it('marks batch repeats (across and within batches) as duplicates with the original id', async () => {
    const single = (await post(seedReading({ reading_id: 'b-0' }))).json().stream_id;
    const res = await postBatch([
      seedReading({ reading_id: 'b-0' }),
      seedReading({ reading_id: 'b-1' }),
      seedReading({ reading_id: 'b-1' }),
      seedReading(),
    ]);
    expect(res.statusCode).toBe(200);
    const { results, accepted } = res.json();
    expect(accepted).toBe(4);
    expect(results.map((r: { duplicate: boolean }) => r.duplicate)).toEqual([true, false, true, false]);
    expect(results[0].stream_id).toBe(single);
    expect(results[2].stream_id).toBe(results[1].stream_id);
    expect(await redis.client.xlen(stream)).toBe(3);

    const retry = (await postBatch([seedReading({ reading_id: 'b-1' })])).json();
    expect(retry.results[0]).toMatchObject({ status: 'accepted', duplicate: true, stream_id: results[1].stream_id });
    expect(await redis.client.xlen(stream)).toBe(3);
  });

  it('counts repeats apart in the Prometheus metrics', async () => {
    await post(seedReading({ reading_id: 'm-1' }));
    await post(seedReading({ reading_id: 'm-1' }));
    const text = (await app.inject({ method: 'GET', url: '/metrics', headers: { accept: 'text/plain' } })).body;
    expect(text).toMatch(/^ep_ingest_readings_accepted_total\{route="\/readings",duplicate="true"\} [1-9]/m);
  });
});

describe('the idempotency window', () => {
  it('refuses to start shorter than the accepted age plus the future skew; the defaults pass', () => {
    const base = { REDIS_URL: redis.url, AUTH_DISABLED: 'true' };
    expect(() => loadIngestConfig(base)).not.toThrow();
    expect(() => loadIngestConfig({ ...base, IDEMPOTENCY_WINDOW_S: '86400' })).toThrow(
      /IDEMPOTENCY_WINDOW_S: 86400 s is shorter than READING_MAX_AGE_S \+ READING_MAX_FUTURE_SKEW_S \(605100 s\)/,
    );
    expect(() =>
      loadIngestConfig({ ...base, IDEMPOTENCY_WINDOW_S: '3600', READING_MAX_AGE_S: '3000', READING_MAX_FUTURE_SKEW_S: '601' }),
    ).toThrow(/IDEMPOTENCY_WINDOW_S/);
  });

  it('outlives every reading it accepts: a resend after the window is refused as too old, not stored again', async () => {
    const short = buildIngestApp(ingestConfig(redis.url, { IDEMPOTENCY_WINDOW_S: '3', READING_MAX_AGE_S: '2', READING_MAX_FUTURE_SKEW_S: '1' }));
    await short.ready();
    try {
      const reading = seedReading({ reading_id: 'late', timestamp: new Date(Date.now() - 500).toISOString() });
      expect((await short.inject({ method: 'POST', url: '/readings', payload: reading })).statusCode).toBe(202);
      const key = ingestKeys(stream).readingId(reading.site_id, reading.device_id, 'late');
      await eventually(async () => (await redis.client.exists(key)) === 0, 5_000, 100);
      const resend = await short.inject({ method: 'POST', url: '/readings', payload: reading });
      expect(resend.statusCode).toBe(400);
      expect(resend.json().issues[0].path).toBe('timestamp');
      expect(await redis.client.xlen(stream)).toBe(1);
    } finally {
      await short.close();
    }
  });
});
