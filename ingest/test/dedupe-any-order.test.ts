/**
 * The dedupe window through the HTTP routes, with its default settings (DEDUPE_WINDOW_S 3600,
 * DEDUPE_SEQ_WINDOW 1024, DEDUPE_MAX_PER_5MIN 600): a device's backlog sent newest first is
 * stored in full and its resend is recognised item by item; a used identity with other content is
 * a conflict naming what differs, never a 202 duplicate; and a device whose dedupe state does not
 * parse fails its own readings only (500 internal_error, stored_before unknown), never the call.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { identitySpace, ingestKeys } from '@energy-pipeline/server-kit';
import { loadIngestConfig } from '../src/config/config.js';
import { chunkField } from '../src/store/dedupe-format.js';
import { storedReadings } from '../../test/support/stream.js';
import { seedReading, useIngestApp } from './helpers.js';

const STREAM = 'test_readings';
const { dedupe } = ingestKeys(STREAM);
const t = useIngestApp();
const settings = loadIngestConfig({ REDIS_URL: 'redis://127.0.0.1:1', AUTH_DISABLED: 'true' }).dedupe;

beforeEach(async () => {
  await t.redis.client.flushdb();
});

const post = (payload: object) => t.app.inject({ method: 'POST', url: '/readings', payload });
const postBatch = (readings: object[]) => t.app.inject({ method: 'POST', url: '/readings/batch', payload: { readings } });
const stored = async () => (await storedReadings(t.redis.client, STREAM)).map((r) => r.fields);
/** A stored reading's identity, as the stream holds it (strings in a single entry, JSON values in a batch). */
const identityOf = (r: Record<string, unknown>) => `${r.site_id}/${r.device_id}@${r.seq ?? Date.parse(String(r.timestamp))}`;

interface ItemResult {
  index: number;
  status: 'accepted' | 'rejected';
  duplicate?: boolean;
  stream_id?: string | null;
  error?: string;
  stored_before?: string;
  issues?: { path: string }[];
}

/** 1,000 readings of one device without seq, 1.8 s apart over the last 30 minutes, newest first. */
function backfill(device_id: string) {
  const newest = Date.now() - 1_000;
  const step = (30 * 60_000) / 1_000;
  return Array.from({ length: 1_000 }, (_, i) => ({
    site_id: 'site-backfill',
    device_id,
    power_reading: Math.round(((i * 7_919) % 20_000) - 5_000) / 4,
    timestamp: new Date(newest - i * step).toISOString(),
    reading_id: `${device_id}-${i}`,
  }));
}

describe('a newest-first backfill of one device without seq', () => {
  it('of 1,000 readings over 30 minutes, in batches, is accepted in full; its resend is answered duplicate item by item', async () => {
    const readings = backfill('gateway-1');
    const span = Date.parse(readings[0]!.timestamp) - Date.parse(readings.at(-1)!.timestamp);
    expect(span).toBeGreaterThan(29 * 60_000);
    expect(span).toBeLessThan(settings.windowMs);

    const first: ItemResult[] = [];
    for (let i = 0; i < readings.length; i += 100) {
      const res = await postBatch(readings.slice(i, i + 100));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ accepted: 100, rejected: 0 });
      first.push(...res.json().results);
    }
    expect(first.filter((r) => r.status === 'accepted' && r.duplicate === false && /^\d+-\d+$/.test(String(r.stream_id)))).toHaveLength(1_000);
    const after = await stored();
    expect(after).toHaveLength(1_000);
    expect(new Set(after.map(identityOf))).toEqual(new Set(readings.map(identityOf)));

    // The whole backlog again, in the same batches: every item a duplicate, nothing stored.
    for (let i = 0; i < readings.length; i += 100) {
      const res = await postBatch(readings.slice(i, i + 100));
      expect(res.statusCode).toBe(200);
      const { accepted, results } = res.json() as { accepted: number; results: ItemResult[] };
      expect(accepted).toBe(100);
      results.forEach((r, j) => {
        expect(r, `reading ${i + j}`).toMatchObject({ index: j, status: 'accepted', duplicate: true, stream_id: null });
      });
    }
    // And oldest first, in one batch of 1,000: the same.
    const all = (await postBatch([...readings].reverse())).json() as { accepted: number; results: ItemResult[] };
    expect(all.accepted).toBe(1_000);
    expect(all.results.every((r) => r.duplicate === true)).toBe(true);
    expect(await t.redis.client.xlen(STREAM)).toBe(10);
    expect(await stored()).toHaveLength(1_000);
  });

  it('sent one POST /readings at a time is accepted in full, and each resend is a 202 duplicate', async () => {
    const readings = backfill('gateway-2');
    for (const reading of readings) {
      const res = await post(reading);
      expect(res.statusCode, reading.timestamp).toBe(202);
      expect(res.json().duplicate).toBe(false);
    }
    for (const reading of readings) {
      const res = await post(reading);
      expect(res.statusCode, reading.timestamp).toBe(202);
      expect(res.json()).toMatchObject({ duplicate: true, stream_id: null });
      expect(res.headers['idempotent-replayed']).toBe('true');
    }
    expect(new Set((await stored()).map(identityOf)).size).toBe(1_000);
    expect(await t.redis.client.xlen(STREAM)).toBe(1_000);
  });
});

describe('a used identity with other content', () => {
  it("(the seed's case) five POSTs reusing one timestamp of a device with other powers are 409 conflict naming power_reading, never 202", async () => {
    const reading = seedReading();
    const original = await post(reading);
    expect(original.statusCode).toBe(202);
    expect(original.json().duplicate).toBe(false);
    for (const power_reading of [1500.6, 1501, 0, -1500.5, 3000]) {
      const res = await post({ ...reading, power_reading });
      expect(res.statusCode, String(power_reading)).toBe(409);
      expect(res.json()).toMatchObject({ error: 'conflict', issues: [{ in: 'body', path: 'power_reading' }] });
      expect(res.json().issues).toHaveLength(1);
      expect(res.json().message).toContain(new Date(Date.parse(reading.timestamp)).toISOString());
    }
    // The same reading resent: a 202 duplicate.
    const again = await post(reading);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ status: 'success', duplicate: true, stream_id: null });
    // In a batch, item by item: the conflicts refused, the repeat accepted.
    const batch = await postBatch([{ ...reading, power_reading: 1 }, reading, { ...reading, power_reading: 2 }]);
    expect(batch.statusCode).toBe(200);
    expect(batch.json().results).toMatchObject([
      { status: 'rejected', error: 'conflict', issues: [{ path: 'power_reading' }] },
      { status: 'accepted', duplicate: true },
      { status: 'rejected', error: 'conflict', issues: [{ path: 'power_reading' }] },
    ]);
    expect(await stored()).toEqual([expect.objectContaining({ power_reading: String(reading.power_reading), timestamp: reading.timestamp })]);
  });

  it('a seq reading resent with another timestamp is a conflict naming timestamp; resent as it was, a duplicate', async () => {
    const reading = seedReading({ seq: 7 });
    expect((await post(reading)).statusCode).toBe(202);
    const later = new Date(Date.parse(reading.timestamp) + 1_000).toISOString();
    const time = await post({ ...reading, timestamp: later });
    expect(time.statusCode).toBe(409);
    expect(time.json()).toMatchObject({ error: 'conflict', issues: [{ in: 'body', path: 'timestamp' }] });
    expect(time.json().issues).toHaveLength(1);
    expect(time.json().message).toContain('seq 7');
    const both = await post({ ...reading, timestamp: later, power_reading: 1 });
    expect(both.statusCode).toBe(409);
    expect(both.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['power_reading', 'timestamp']);
    const again = await post(reading);
    expect(again.statusCode).toBe(202);
    expect(again.json().duplicate).toBe(true);
    expect(await stored()).toHaveLength(1);
  });
});

describe('a corrupt dedupe value', () => {
  const device = (device_id: string, overrides: Record<string, unknown> = {}) => seedReading({ site_id: 'site-1', device_id, ...overrides });

  for (const garbage of [';;;;', '1e400;;1;1;', 'newest=1e400;floor=1', 'newest=5;floor=9', 'newest=99999999999999999999;floor=1', '']) {
    it(`(header ${JSON.stringify(garbage)}) fails only its own reading: an item internal_error in a 200 batch, a 500 without Retry-After alone`, async () => {
      // The device was seen before, then its header was damaged.
      expect((await post(device('device-1'))).statusCode).toBe(202);
      const field = identitySpace('site-1', 'device-1', false);
      expect(field).toBe('site-1/device-1@t');
      expect(await t.redis.client.hexists(dedupe, field)).toBe(1);
      await t.redis.client.hset(dedupe, field, garbage);
      const before = await stored();

      const bad = device('device-1');
      const batch = await postBatch([device('device-2'), bad, device('device-3'), device('device-2', { seq: 1 })]);
      expect(batch.statusCode).toBe(200);
      const body = batch.json() as { accepted: number; rejected: number; results: ItemResult[] };
      expect(body).toMatchObject({ accepted: 3, rejected: 1 });
      expect(body.results[1]).toMatchObject({ index: 1, status: 'rejected', error: 'internal_error', stored_before: 'unknown' });
      for (const i of [0, 2, 3]) expect(body.results[i]).toMatchObject({ index: i, status: 'accepted', duplicate: false });

      const single = await post(device('device-1'));
      expect(single.statusCode).toBe(500);
      expect(single.json()).toMatchObject({ error: 'internal_error', stored_before: 'unknown' });
      expect(single.headers['retry-after']).toBeUndefined();

      // Nothing of device-1 was stored, its state was left for an operator to see, and the store
      // is not taken for down: the other devices' next readings still go through.
      const after = await stored();
      expect(after.filter((r) => r.device_id === 'device-1')).toHaveLength(before.filter((r) => r.device_id === 'device-1').length);
      expect(after).toHaveLength(before.length + 3);
      expect(await t.redis.client.hget(dedupe, field)).toBe(garbage);
      for (let i = 0; i < 5; i++) expect((await post(device('device-1'))).statusCode).toBe(500);
      expect((await post(device('device-2'))).statusCode).toBe(202);
      expect((await postBatch([device('device-3')])).json().results[0]).toMatchObject({ status: 'accepted', duplicate: false });
    });
  }

  it('(a seq header, or a closed chunk) fails only the readings that need it', async () => {
    // device-4: a reading 20 minutes ago, then one now, so that the earlier one's 5-minute chunk
    // is closed (a field of its own; the newest's chunk lives in the header).
    const at = Date.now() - 20 * 60_000;
    const seqReading = device('device-1', { seq: 10 });
    const old = device('device-4', { timestamp: new Date(at).toISOString() });
    expect((await postBatch([seqReading, old, device('device-4', { timestamp: new Date(Date.now() - 60_000).toISOString() })])).json().accepted).toBe(3);
    const closed = chunkField('site-1/device-4@t', at);
    expect(await t.redis.client.hexists(dedupe, closed)).toBe(1);
    await t.redis.client.hset(dedupe, 'site-1/device-1', '1e400;;1;1;');
    await t.redis.client.hset(dedupe, closed, 'garbage,0=AA AA;');

    // Another timestamp in the damaged chunk (5 minutes long), and one in the header's.
    const inChunk = at % 300_000 >= 10 ? at - 10 : at + 10;
    const batch = await postBatch([
      device('device-1', { seq: 11 }),
      device('device-2'),
      device('device-4', { timestamp: new Date(inChunk).toISOString() }),
      device('device-4', { timestamp: new Date(Date.now() - 30_000).toISOString() }),
    ]);
    expect(batch.statusCode).toBe(200);
    const { results } = batch.json() as { results: ItemResult[] };
    expect(results.map((r) => r.error ?? r.status)).toEqual(['internal_error', 'accepted', 'internal_error', 'accepted']);
    for (const i of [0, 2]) expect(results[i]).toMatchObject({ stored_before: 'unknown' });
    const single = await post(device('device-1', { seq: 12 }));
    expect(single.statusCode).toBe(500);
    expect(single.headers['retry-after']).toBeUndefined();
    const again = await post(device('device-4', { timestamp: new Date(inChunk).toISOString() }));
    expect(again.statusCode).toBe(500);
    expect(again.json()).toMatchObject({ error: 'internal_error', stored_before: 'unknown' });
    // Its other space is unharmed: the device's readings without seq still go through.
    expect((await post(device('device-1'))).statusCode).toBe(202);
    expect(await t.redis.client.hget(dedupe, closed)).toBe('garbage,0=AA AA;');
  });
});
