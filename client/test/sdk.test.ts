import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EnergyPipelineClient, type EnergyPipelineError, HttpError, ValidationError } from '../src/index.js';
import { eventually } from '../../scripts/lib/redis-server.js';
import { type FakeServer, quickRetry, reading, type Stack, startFakeServer, startStack, streamReadingIds } from './helpers.js';

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

describe('SDK against the real ingest: readings it cannot store under their identity', () => {
  const caught = (p: Promise<unknown>) => p.then(() => expect.unreachable('resolved')).catch((e: unknown) => e as EnergyPipelineError);
  /** A reading of its own device, numbered by hand. */
  const numbered = (device: string, seq: number, overrides: Record<string, unknown> = {}) => ({
    ...reading(0, { device_id: device, seq, ...overrides }),
    reading_id: `${device}-${seq}-${Math.random()}`,
  });

  it('throws conflict naming the differing field when a different reading reuses a seq', async () => {
    const timestamp = new Date(Date.now() - 60_000).toISOString();
    await client.sendReading(numbered('conflict-1', 7, { power_reading: 100, timestamp }));
    const err = await caught(client.sendReading(numbered('conflict-1', 7, { power_reading: 200, timestamp })));
    expect(err).toBeInstanceOf(HttpError);
    expect([err.kind, err.status, err.attempts, err.unconfirmed]).toEqual(['conflict', 409, 1, false]);
    expect(err.issues.map((i) => i.path)).toEqual(['power_reading']);
  });

  it('refuses a first attempt below what is remembered of its device, saying stored_before is unknown', async () => {
    await client.sendReading(numbered('old-1', 1_000_000));
    const err = await caught(client.sendReading(numbered('old-1', 5)));
    expect([err.kind, err.status, err.storedBefore, err.earlierAnswerLost, err.unconfirmed]).toEqual(['out_of_order', 409, 'unknown', false, false]);
    const sent = await client.sendReadings([numbered('old-1', 6), numbered('old-1', 1_000_001)]);
    expect([sent.accepted, sent.rejected, sent.unconfirmed]).toEqual([1, 1, 0]);
    expect(sent.results[0]).toMatchObject({ status: 'rejected', error: 'out_of_order', stored_before: 'unknown', retryable: false });
  });

  describe('through a proxy that loses the first answer', () => {
    let proxy: FakeServer;
    afterEach(() => proxy?.close());

    /**
     * Forwards every request to the ingest. The first one's answer is lost (the connection is reset
     * once the ingest has stored it), and before the client resends, the device moves on far past
     * it: the resend is too old to be checked against the copy the first attempt stored.
     */
    async function lossyProxy(device: string) {
      proxy = await startFakeServer(async (req, n) => {
        const res = await fetch(`${stack.ingestUrl}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(req.body) });
        if (n > 1) return { status: res.status, body: await res.json() };
        expect(res.status).toBeLessThan(300);
        await client.sendReading(numbered(device, 2_000_000));
        return 'reset';
      });
      return new EnergyPipelineClient({ ingestUrl: proxy.url, retry: quickRetry });
    }

    it('sendReading: throws out_of_order marked unconfirmed, and the reading is stored once', async () => {
      const lossy = await lossyProxy('lost-1');
      const first = numbered('lost-1', 10);
      const err = await caught(lossy.sendReading(first));
      expect([err.kind, err.storedBefore, err.attempts, err.earlierAnswerLost, err.unconfirmed]).toEqual(['out_of_order', 'unknown', 2, true, true]);
      expect((await streamReadingIds(stack)).filter((id) => id === first.reading_id)).toHaveLength(1);
    });

    it('sendReadings: reports the reading unconfirmed, not rejected', async () => {
      const lossy = await lossyProxy('lost-2');
      const first = numbered('lost-2', 10);
      const sent = await lossy.sendReadings([first]);
      expect([sent.accepted, sent.rejected, sent.unconfirmed]).toEqual([0, 0, 1]);
      expect(sent.results[0]).toMatchObject({ reading_id: first.reading_id, status: 'unconfirmed', error: 'out_of_order', stored_before: 'unknown' });
      expect(proxy.requests).toHaveLength(2);
      expect((await streamReadingIds(stack)).filter((id) => id === first.reading_id)).toHaveLength(1);
    });
  });
});
