import { describe, expect, it } from 'vitest';
import { storedReadings } from '../../test/support/stream.js';
import { seedReading, useIngestApp } from './helpers.js';

const t = useIngestApp({ BATCH_MAX_READINGS: '5' });
const stream = 'test_readings';

const postBatch = (payload: unknown) => t.app.inject({ method: 'POST', url: '/readings/batch', payload: payload as object });

describe('POST /readings/batch', () => {
  it('stores every valid reading in request order and answers per item', async () => {
    const readings = [0, 1, 2].map((i) => seedReading({ device_id: `d${i}`, power_reading: i }));
    const res = await postBatch({ readings });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ accepted: 3, rejected: 0 });
    // One entry for the batch, its readings in request order.
    const stored = await storedReadings(t.redis.client, stream);
    expect(body.results.map((r: { stream_id: string }) => r.stream_id)).toEqual(stored.map((r) => r.entryId));
    expect(new Set(stored.map((r) => r.entryId)).size).toBe(1);
    expect(stored.map((r) => r.fields.device_id)).toEqual(['d0', 'd1', 'd2']);
  });

  it('stores the valid readings and reports the invalid ones with their position and field', async () => {
    const readings = [seedReading(), seedReading({ power_reading: 'x' }), seedReading({ power_readng: 1 })];
    const body = (await postBatch({ readings })).json();
    expect(body).toMatchObject({ accepted: 1, rejected: 2 });
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'rejected', 'rejected']);
    expect(body.results[1].issues.map((i: { path: string }) => i.path)).toEqual(['power_reading']);
    expect(body.results[2].issues.map((i: { path: string }) => i.path)).toContain('power_readng');
    expect(await storedReadings(t.redis.client, stream)).toHaveLength(1);
  });

  it('names the fields of a refused item within its reading, not by its place in the request', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const body = (await postBatch({ readings: [seedReading(), seedReading(), seedReading({ timestamp: future })] })).json();
    expect(body.results[2]).toMatchObject({ index: 2, status: 'rejected', error: 'validation_failed' });
    expect(body.results[2].issues).toEqual([{ in: 'body', path: 'timestamp', message: expect.stringContaining('in the future') }]);
    expect(body.results[2].message).not.toContain('readings.');
  });

  it.each([
    ['an empty batch', { readings: [] }],
    ['a batch over the limit', { readings: Array.from({ length: 6 }, () => seedReading()) }],
    ['readings that is not an array', { readings: seedReading() }],
    ['an unknown top-level field', { readings: [seedReading()], extra: true }],
  ])('rejects %s whole with 400 naming readings, writing nothing', async (_, payload) => {
    const res = await postBatch(payload);
    expect(res.statusCode).toBe(400);
    const paths = res.json().issues.map((i: { path: string }) => i.path);
    expect(paths.some((p: string) => p === 'readings' || p === 'extra')).toBe(true);
    expect(await t.redis.client.xlen(stream)).toBe(0);
  });
});
