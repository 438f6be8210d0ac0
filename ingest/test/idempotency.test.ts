import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { hashTag, ingestKeys } from '@energy-pipeline/server-kit';
import { buildIngestApp } from '../src/app.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { storedReadings as readStream } from '../../test/support/stream.js';
import { ingestConfig, seedReading } from './helpers.js';

const stream = 'test_readings';
const { dedupe } = ingestKeys(stream);
const MAX_GAPS = 4;
let redis: TestRedis;
let app: FastifyInstance;
let replica: FastifyInstance;

beforeAll(async () => {
  redis = await startRedisServer();
  const env = { DEDUPE_MAX_GAPS: String(MAX_GAPS) };
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
const storedReadings = async () => (await readStream(redis.client, stream)).map((r) => r.fields);

describe('a reading with a seq', () => {
  it('is stored once: a repeat gets 202, duplicate, no stream id, and the first copy wins', async () => {
    const reading = seedReading({ seq: 42 });
    const first = await post(reading);
    const again = await post({ ...reading, power_reading: 1 });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({ status: 'success', duplicate: false, stream_id: expect.stringMatching(/^\d+-\d+$/) });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ status: 'success', duplicate: true, stream_id: null });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await storedReadings()).toEqual([expect.objectContaining({ power_reading: String(reading.power_reading), seq: '42' })]);
  });

  it('is recognised however late it comes, and out of order, while the device keeps two gaps', async () => {
    // A device's spool: readings 1..40 from a week ago, sent in order, then every one again.
    const week = Array.from({ length: 40 }, (_, i) => seedReading({ seq: i + 1, timestamp: minutesAgo(7 * 24 * 60 - i) }));
    for (const r of week) expect((await post(r)).json().duplicate).toBe(false);
    for (const r of [...week].reverse()) expect((await post(r)).json()).toMatchObject({ duplicate: true });
    expect(await storedReadings()).toHaveLength(40);
    // What it costs: `top` (41: everything from it up is unseen), no floor, and one closed gap:
    // the values below the first seq. However many it sends.
    expect(await redis.client.hget(dedupe, 'site-001/device-001')).toBe('40;;1;1;');
  });

  it('fills a gap when a late reading arrives, and knows every seq it stored', async () => {
    for (const seq of [1, 2, 5, 3, 9]) expect((await post(seedReading({ seq }))).json().duplicate).toBe(false);
    expect(await redis.client.hget(dedupe, 'site-001/device-001')).toBe('9;;3;9;2,0:0,2:');
    for (const seq of [1, 2, 3, 5, 9]) expect((await post(seedReading({ seq }))).json().duplicate).toBe(true);
    expect((await post(seedReading({ seq: 4 }))).json().duplicate).toBe(false);
    expect(await storedReadings()).toHaveLength(6);
  });

  it('is scoped by site and device', async () => {
    await post(seedReading({ seq: 7, device_id: 'a' }));
    await post(seedReading({ seq: 7, device_id: 'b' }));
    await post(seedReading({ seq: 7, site_id: 'other', device_id: 'a' }));
    expect(await storedReadings()).toHaveLength(3);
  });

  it('is stored once out of many concurrent copies on two replicas', async () => {
    const reading = seedReading({ seq: 1 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post(reading, i % 2 ? app : replica)));
    expect(answers.every((a) => a.statusCode === 202)).toBe(true);
    expect(answers.filter((a) => !a.json().duplicate)).toHaveLength(1);
    expect(await storedReadings()).toHaveLength(1);
  });

  it('below the gaps a device has forgotten is refused with 409, never stored twice', async () => {
    // Every other seq: each reading leaves a gap, and only MAX_GAPS are kept.
    for (let seq = 2; seq <= 20; seq += 2) await post(seedReading({ seq }));
    const tooOld = await post(seedReading({ seq: 3 }));
    expect(tooOld.statusCode).toBe(409);
    expect(tooOld.json()).toMatchObject({ error: 'out_of_order', message: expect.stringContaining('seq 3') });
    // Within what is remembered, a new one is stored and a repeat is recognised.
    expect((await post(seedReading({ seq: 19 }))).json().duplicate).toBe(false);
    expect((await post(seedReading({ seq: 18 }))).json().duplicate).toBe(true);
    expect(await storedReadings()).toHaveLength(11);
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

  it('is recognised within the last readings of its device, refused with 409 further back', async () => {
    const times = Array.from({ length: 10 }, (_, i) => minutesAgo(10 - i));
    for (const timestamp of times) await post(seedReading({ timestamp }));
    expect((await post(seedReading({ timestamp: times[9]! }))).json().duplicate).toBe(true);
    expect((await post(seedReading({ timestamp: times[7]! }))).json().duplicate).toBe(true);
    expect((await post(seedReading({ timestamp: times[0]! }))).statusCode).toBe(409);
    // Late but new, between two remembered readings: stored.
    expect((await post(seedReading({ timestamp: new Date(Date.parse(times[8]!) + 30_000).toISOString() }))).json().duplicate).toBe(false);
    expect(await storedReadings()).toHaveLength(11);
  });

  it("is accepted however old, by default: the seed's own example", async () => {
    const res = await post({ site_id: 'site-001', device_id: 'device-001', power_reading: 1500.5, timestamp: '2024-01-15T10:30:00Z' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'success', stream_id: expect.any(String), message: 'Reading successfully ingested' });
  });
});

describe('a batch', () => {
  it('is stored as one entry holding its new readings; repeats within and across batches are marked', async () => {
    await post(seedReading({ seq: 1 }));
    const res = await postBatch([
      seedReading({ seq: 1 }),
      seedReading({ seq: 2 }),
      seedReading({ seq: 2 }),
      seedReading({ seq: 3, device_id: 'other' }),
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

    const retry = (await postBatch([seedReading({ seq: 2 })])).json();
    expect(retry.results[0]).toMatchObject({ status: 'accepted', duplicate: true, stream_id: null });
    expect(await redis.client.xlen(stream)).toBe(2);
  });

  it('stores exactly the new readings of a batch with repeats among them, whatever letters their ids use', async () => {
    const meter = (seq: number, device_id: string) => seedReading({ seq, device_id, site_id: 'Zähler-東京' });
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

  it('rejects the readings it cannot tell from repeats as out_of_order, and stores the rest', async () => {
    for (let seq = 2; seq <= 20; seq += 2) await post(seedReading({ seq }));
    const { results } = (await postBatch([seedReading({ seq: 1 }), seedReading({ seq: 21 })])).json();
    expect(results[0]).toMatchObject({ status: 'rejected', error: 'out_of_order' });
    expect(results[1]).toMatchObject({ status: 'accepted', duplicate: false });
  });
});

describe('the dedupe state', () => {
  it('lives beside the stream in its hash slot and grows with devices, not readings', async () => {
    expect(dedupe).toContain(hashTag(stream));
    const readings = Array.from({ length: 500 }, (_, i) => seedReading({ device_id: `d-${i % 5}`, seq: Math.floor(i / 5) + 1 }));
    for (let i = 0; i < readings.length; i += 100) await postBatch(readings.slice(i, i + 100));
    expect(await redis.client.hlen(dedupe)).toBe(5);
    for (const value of await redis.client.hvals(dedupe)) expect(value).toBe('100;;1;1;');
  });

  it('counts repeats apart in the Prometheus metrics', async () => {
    await post(seedReading({ seq: 5 }));
    await post(seedReading({ seq: 5 }));
    const text = (await app.inject({ method: 'GET', url: '/metrics', headers: { accept: 'text/plain' } })).body;
    expect(text).toMatch(/^ep_ingest_readings_accepted_total\{route="\/readings",duplicate="true"\} [1-9]/m);
  });
});
