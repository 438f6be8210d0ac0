import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { hashTag, ingestKeys } from '@energy-pipeline/server-kit';
import { buildIngestApp } from '../src/app.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { storedReadings as readStream } from '../../test/support/stream.js';
import { ingestConfig, seedReading } from './helpers.js';

const stream = 'test_readings';
const { dedupe } = ingestKeys(stream);
// Small windows, so that a test can reach their edges: 64 numbers, 10 minutes, 20 readings per 5 minutes.
const SEQ_WINDOW = 64;
const MAX_PER_5MIN = 20;
let redis: TestRedis;
let app: FastifyInstance;
let replica: FastifyInstance;

beforeAll(async () => {
  redis = await startRedisServer();
  const env = { DEDUPE_SEQ_WINDOW: String(SEQ_WINDOW), DEDUPE_WINDOW_S: '600', DEDUPE_MAX_PER_5MIN: String(MAX_PER_5MIN) };
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
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
/** A numbered reading whose time follows from its seq, so that sending it again is a true repeat (seedReading's time moves on). */
const BASE_MS = Date.now() - 3_600_000;
const numbered = (overrides: { seq: number } & Record<string, unknown>) =>
  seedReading({ timestamp: new Date(BASE_MS + overrides.seq * 1_000).toISOString(), ...overrides });
const storedReadings = async () => (await readStream(redis.client, stream)).map((r) => r.fields);

describe('a reading with a seq', () => {
  it('is stored once: a repeat gets 202, duplicate, no stream id; a different reading under its seq is a conflict', async () => {
    const reading = numbered({ seq: 42 });
    const first = await post(reading);
    const again = await post(reading);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({ status: 'success', duplicate: false, stream_id: expect.stringMatching(/^\d+-\d+$/) });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ status: 'success', duplicate: true, stream_id: null });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    // Same seq, another power or another time: not a repeat, never silently dropped.
    const power = await post({ ...reading, power_reading: 1 });
    expect(power.statusCode).toBe(409);
    expect(power.json()).toMatchObject({ error: 'conflict', issues: [{ in: 'body', path: 'power_reading' }] });
    expect(power.json().message).toContain('seq 42');
    const time = await post({ ...reading, timestamp: minutesAgo(3) });
    expect(time.json()).toMatchObject({ error: 'conflict', issues: [{ path: 'timestamp' }] });
    expect(await storedReadings()).toEqual([expect.objectContaining({ power_reading: String(reading.power_reading), seq: '42' })]);
  });

  it('is recognised however late it comes, in any order within the seq window', async () => {
    // A device's spool: readings 1..40 from a week ago, sent newest first, then every one again.
    const week = Array.from({ length: 40 }, (_, i) => numbered({ seq: i + 1, timestamp: minutesAgo(7 * 24 * 60 - i) }));
    for (const r of [...week].reverse()) expect((await post(r)).json().duplicate).toBe(false);
    for (const r of week) expect((await post(r)).json()).toMatchObject({ duplicate: true });
    expect(await storedReadings()).toHaveLength(40);
    // What it costs: a header, with the count of the chunk of 64 numbers the newest falls in (all
    // 40 here) and its latest records, and that chunk's field with the others.
    expect(await redis.client.hget(dedupe, 'site-001/device-001')).toMatch(new RegExp(`^newest=40;floor=${40 - SEQ_WINDOW};40;,`));
    expect((await redis.client.hkeys(dedupe)).sort()).toEqual(['site-001/device-001', 'site-001/device-001#0']);
  });

  it('fills a gap when a late reading arrives, and knows every seq it stored', async () => {
    for (const seq of [1, 2, 5, 3, 9]) expect((await post(numbered({ seq }))).json().duplicate).toBe(false);
    for (const seq of [1, 2, 3, 5, 9]) expect((await post(numbered({ seq }))).json().duplicate).toBe(true);
    expect((await post(numbered({ seq: 4 }))).json().duplicate).toBe(false);
    expect(await storedReadings()).toHaveLength(6);
  });

  it('is scoped by site and device', async () => {
    await post(numbered({ seq: 7, device_id: 'a' }));
    await post(numbered({ seq: 7, device_id: 'b' }));
    await post(numbered({ seq: 7, site_id: 'other', device_id: 'a' }));
    expect(await storedReadings()).toHaveLength(3);
  });

  it('is stored once out of many concurrent copies on two replicas', async () => {
    const reading = numbered({ seq: 1 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post(reading, i % 2 ? app : replica)));
    expect(answers.every((a) => a.statusCode === 202)).toBe(true);
    expect(answers.filter((a) => !a.json().duplicate)).toHaveLength(1);
    expect(await storedReadings()).toHaveLength(1);
  });

  it('more than the seq window behind its newest is refused with 409 and stored_before unknown, never stored twice', async () => {
    await post(numbered({ seq: 10 }));
    await post(numbered({ seq: 200 }));
    const tooOld = await post(numbered({ seq: 10 }));
    expect(tooOld.statusCode).toBe(409);
    expect(tooOld.json()).toMatchObject({ error: 'out_of_order', stored_before: 'unknown', message: expect.stringContaining('seq 10') });
    expect(tooOld.json().message).toContain(`seq ${200 - SEQ_WINDOW}`);
    // Within the window, a new one is stored and a repeat is recognised; the chunks below it are gone.
    expect((await post(numbered({ seq: 200 - SEQ_WINDOW }))).json().duplicate).toBe(false);
    expect((await post(numbered({ seq: 200 }))).json().duplicate).toBe(true);
    expect(await storedReadings()).toHaveLength(3);
    expect(await redis.client.hexists(dedupe, 'site-001/device-001#0')).toBe(0);
  });
});

describe('a reading without a seq', () => {
  it("is identified by its device and timestamp: a plain curl retry is recognised, reading_id or not", async () => {
    const reading = seedReading();
    expect((await post(reading)).json().duplicate).toBe(false);
    expect((await post(reading)).json().duplicate).toBe(true);
    expect((await post({ ...reading, reading_id: 'r-1' })).json().duplicate).toBe(true);
    expect((await post({ ...reading, timestamp: new Date(Date.parse(reading.timestamp) + 1).toISOString() })).json().duplicate).toBe(false);
    expect(await storedReadings()).toHaveLength(2);
  });

  it('is recognised in any order within the window behind its newest, refused with 409 further back', async () => {
    const times = Array.from({ length: 10 }, (_, i) => minutesAgo(9 - i));
    // Newest first, as a gateway drains its buffer.
    for (const timestamp of [...times].reverse()) expect((await post(seedReading({ timestamp }))).json().duplicate).toBe(false);
    for (const timestamp of times) expect((await post(seedReading({ timestamp }))).json().duplicate).toBe(true);
    const tooOld = await post(seedReading({ timestamp: minutesAgo(11) }));
    expect(tooOld.statusCode).toBe(409);
    expect(tooOld.json()).toMatchObject({ error: 'out_of_order', stored_before: 'unknown' });
    // Late but new, between two remembered readings: stored.
    expect((await post(seedReading({ timestamp: new Date(Date.parse(times[5]!) + 30_000).toISOString() }))).json().duplicate).toBe(false);
    expect(await storedReadings()).toHaveLength(11);
  });

  it('under a used timestamp with another power is a conflict, never a 202 duplicate', async () => {
    const reading = seedReading();
    expect((await post(reading)).statusCode).toBe(202);
    for (const power_reading of [1, 2, 3, 4, 5]) {
      const res = await post({ ...reading, power_reading });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({ error: 'conflict', issues: [{ path: 'power_reading', message: expect.stringContaining('differs') }] });
    }
    expect(await storedReadings()).toHaveLength(1);
  });

  it('past the most remembered per device in 5 minutes is refused with window_full, telling to number them', async () => {
    const start = Math.floor((Date.now() - 20 * 60_000) / 300_000) * 300_000;
    const readings = Array.from({ length: MAX_PER_5MIN + 3 }, (_, i) => seedReading({ timestamp: new Date(start + i * 1_000).toISOString() }));
    const { results } = (await postBatch(readings)).json();
    expect(results.filter((r: { status: string }) => r.status === 'accepted')).toHaveLength(MAX_PER_5MIN);
    expect(results.at(-1)).toMatchObject({ status: 'rejected', error: 'window_full', message: expect.stringContaining('seq') });
    // Numbered, the same device may send them.
    expect((await post({ ...readings.at(-1)!, seq: 1 })).statusCode).toBe(202);
  });

  it("is accepted however old, by default: the seed's own example", async () => {
    const res = await post({ site_id: 'site-001', device_id: 'device-001', power_reading: 1500.5, timestamp: '2024-01-15T10:30:00Z' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'success', stream_id: expect.any(String), message: 'Reading successfully ingested' });
  });
});

describe('a batch', () => {
  it('is stored as one entry holding its new readings; repeats within and across batches are marked', async () => {
    await post(numbered({ seq: 1 }));
    const res = await postBatch([
      numbered({ seq: 1 }),
      numbered({ seq: 2 }),
      numbered({ seq: 2 }),
      numbered({ seq: 3, device_id: 'other' }),
    ]);
    expect(res.statusCode).toBe(200);
    const { results, accepted } = res.json();
    expect(accepted).toBe(4);
    expect(results.map((r: { duplicate: boolean }) => r.duplicate)).toEqual([true, false, true, false]);
    expect(results[0].stream_id).toBeNull();
    expect(results[3].stream_id).toBe(results[1].stream_id);
    const entries = await redis.client.xrange(stream, '-', '+');
    expect(entries).toHaveLength(2);
    expect(entries[1]![1]).toEqual(['readings', expect.any(String), 'count', '2', 'received_at', expect.stringMatching(/^\d+$/)]);
    expect(await storedReadings()).toHaveLength(3);

    const retry = (await postBatch([numbered({ seq: 2 })])).json();
    expect(retry.results[0]).toMatchObject({ status: 'accepted', duplicate: true, stream_id: null });
    expect(await redis.client.xlen(stream)).toBe(2);
  });

  it('stores exactly the new readings of a batch with repeats among them, whatever letters their ids use', async () => {
    const meter = (seq: number, device_id: string) => numbered({ seq, device_id, site_id: 'Zähler-東京' });
    await post(meter(1, 'mètre-1'));
    await post(meter(7, 'ü'));
    const batch = [meter(1, 'mètre-1'), meter(2, 'mètre-1'), meter(7, 'ü'), meter(8, 'ü'), meter(2, 'mètre-1'), meter(1, 'plain')];
    const { results } = (await postBatch(batch)).json();
    expect(results.map((r: { duplicate: boolean }) => r.duplicate)).toEqual([true, false, true, false, true, false]);
    const entries = await redis.client.xrange(stream, '-', '+');
    const last = entries.at(-1)![1];
    expect(JSON.parse(last[1]!)).toEqual([batch[1], batch[3], batch[5]]);
    expect(last[3]).toBe('3');
  });

  it('answers item by item: below the window, a conflict, a repeat and a new one', async () => {
    await post(numbered({ seq: 100 }));
    await post(numbered({ seq: 90 }));
    const { results } = (await postBatch([numbered({ seq: 1 }), numbered({ seq: 90, power_reading: 7 }), numbered({ seq: 90 }), numbered({ seq: 91 })])).json();
    expect(results[0]).toMatchObject({ status: 'rejected', error: 'out_of_order', stored_before: 'unknown' });
    expect(results[1]).toMatchObject({ status: 'rejected', error: 'conflict', issues: [{ path: 'power_reading' }] });
    expect(results[2]).toMatchObject({ status: 'accepted', duplicate: true });
    expect(results[3]).toMatchObject({ status: 'accepted', duplicate: false });
  });
});

describe('the dedupe state', () => {
  it('lives beside the stream in its hash slot and stays within the window, however many readings come', async () => {
    expect(dedupe).toContain(hashTag(stream));
    const readings = Array.from({ length: 2_000 }, (_, i) => seedReading({ device_id: `d-${i % 5}`, seq: Math.floor(i / 5) + 1 }));
    for (let i = 0; i < readings.length; i += 500) await postBatch(readings.slice(i, i + 500));
    // Per device: its header, holding the chunk of 64 numbers of its newest (384-447), and the one
    // closed chunk that the last SEQ_WINDOW (336-400) still reach (320-383).
    for (let d = 0; d < 5; d++) {
      expect(await redis.client.hget(dedupe, `site-001/d-${d}`)).toMatch(new RegExp(`^newest=400;floor=${400 - SEQ_WINDOW};17;,`));
      expect(await redis.client.hexists(dedupe, `site-001/d-${d}#5`)).toBe(1);
    }
    expect(await redis.client.hlen(dedupe)).toBe(5 * 2);
  });

  it('counts repeats apart in the Prometheus metrics', async () => {
    await post(numbered({ seq: 5 }));
    await post(numbered({ seq: 5 }));
    const text = (await app.inject({ method: 'GET', url: '/metrics', headers: { accept: 'text/plain' } })).body;
    expect(text).toMatch(/^ep_ingest_readings_accepted_total\{route="\/readings",duplicate="true"\} [1-9]/m);
  });
});

describe('a fault of the store that no retry cures', () => {
  it('is a 500 without Retry-After, not a 503 that has devices retry for ever; a batch answers it per reading', async () => {
    // The dedupe key of the wrong type: the script's HMGET fails before anything is written.
    await redis.client.set(dedupe, 'not a hash');
    const single = await post(seedReading());
    expect(single.statusCode).toBe(500);
    expect(single.json()).toMatchObject({ error: 'internal_error', outcome: 'not_stored' });
    expect(single.headers['retry-after']).toBeUndefined();
    const batch = await postBatch([seedReading(), seedReading({ device_id: 'other' })]);
    expect(batch.statusCode).toBe(200);
    expect(batch.json().results.map((r: { error: string }) => r.error)).toEqual(['internal_error', 'internal_error']);
    expect(await redis.client.exists(stream)).toBe(0);
  });
});
