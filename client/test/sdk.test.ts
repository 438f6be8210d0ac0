import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnergyPipelineClient, HttpError, ValidationError } from '../src/index.js';
import { eventually } from '../../scripts/lib/redis-server.js';
import { reading, type Stack, startStack, streamReadingIds } from './helpers.js';

let stack: Stack;
let client: EnergyPipelineClient;

beforeAll(async () => {
  // A small server batch limit, so chunking is exercised with a handful of readings.
  stack = await startStack({ BATCH_MAX_READINGS: '4' });
  client = new EnergyPipelineClient({ ingestUrl: stack.ingestUrl, processUrl: stack.processUrl, batchSize: 4 });
});
afterAll(() => stack.stop());

describe('SDK against the real ingest and processor', () => {
  it('sends one reading with a reading_id it made up, which the stream entry carries', async () => {
    const before = (await streamReadingIds(stack)).length;
    const result = await client.sendReading(reading(1, { power_reading: -820.5 }));
    expect(result.stream_id).toMatch(/^\d+-\d+$/);
    expect(result.reading_id).toMatch(/^[0-9a-f-]{36}$/);
    const ids = await streamReadingIds(stack);
    expect(ids.slice(before)).toEqual([result.reading_id]);
  });

  it('keeps a reading_id the caller chose', async () => {
    const result = await client.sendReading(reading(2, { reading_id: 'meter-2:000042' }));
    expect(result.reading_id).toBe('meter-2:000042');
    expect(await streamReadingIds(stack)).toContain('meter-2:000042');
  });

  it('throws a ValidationError naming the field, without retrying', async () => {
    const err = await client.sendReading(reading(3, { power_reading: Number.NaN })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const v = err as ValidationError;
    expect([v.kind, v.status, v.code, v.attempts]).toEqual(['validation_failed', 400, 'validation_failed', 1]);
    expect(v.issues.map((i) => i.path)).toEqual(['power_reading']);
  });

  it('splits readings into batches of the server limit and merges the results in order', async () => {
    const readings = Array.from({ length: 10 }, (_, i) => reading(i));
    readings[5] = reading(5, { timestamp: 'yesterday' });
    const before = (await streamReadingIds(stack)).length;
    const sent = await client.sendReadings(readings);
    expect([sent.accepted, sent.rejected]).toEqual([9, 1]);
    expect(sent.results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const bad = sent.results[5]!;
    expect(bad.status).toBe('rejected');
    if (bad.status === 'rejected') {
      expect([bad.error, bad.retryable]).toEqual(['validation_failed', false]);
      // Named within the reading, not by its place in the second request.
      expect(bad.issues?.map((i) => i.path)).toEqual(['timestamp']);
    }
    const stored = (await streamReadingIds(stack)).slice(before);
    const acceptedIds = sent.results.filter((r) => r.status === 'accepted').map((r) => r.reading_id);
    expect(stored).toEqual(acceptedIds);
    expect(new Set(sent.results.map((r) => r.reading_id)).size).toBe(10);
  });

  it('reads ingest health and metrics, typed', async () => {
    const health = await client.health();
    expect([health.status, health.redis, health.stream]).toEqual(['ok', 'up', stack.stream]);
    const metrics = await client.metrics();
    expect(metrics.stream.length).toBe(await stack.redis.client.xlen(stack.stream));
  });

  it('exposes the processor routes from its contract', async () => {
    const health = await client.processor.health();
    expect(health.running).toBe(true);
    const total = (await streamReadingIds(stack)).length;
    const metrics = await eventually(async () => {
      const m = await client.processor.metrics();
      return m.applied.total === total ? m : null;
    });
    expect(metrics.group.lag).toBe(0);
  });

  it('turns a status outside the contract into a typed error', async () => {
    const wrong = new EnergyPipelineClient({ ingestUrl: `${stack.ingestUrl}/nope` });
    const err = await wrong.sendReading(reading(0)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(404);
  });

  it('says clearly when processor routes are used without processUrl', () => {
    const ingestOnly = new EnergyPipelineClient({ ingestUrl: stack.ingestUrl });
    expect(() => ingestOnly.processor).toThrow(/processUrl/);
  });
});
