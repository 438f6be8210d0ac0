import { describe, expect, it } from 'vitest';
import { buildIngestApp } from '../src/app.js';
import { ingestConfig, seedReading, useIngestApp } from './helpers.js';

const t = useIngestApp();
const stream = 'test_readings';

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/readings', payload: payload as string, headers: { 'content-type': 'application/json', ...headers } });

describe('POST /readings', () => {
  it("accepts the seed's curl body with 202 and the seed's response shape, and appends it to the stream", async () => {
    const body = seedReading({ timestamp: new Date(Date.now() - 60_000).toISOString() });
    const res = await post(JSON.stringify(body));
    expect(res.statusCode).toBe(202);
    const json = res.json();
    expect(json).toEqual({
      status: 'success',
      stream_id: expect.stringMatching(/^\d+-\d+$/),
      duplicate: false,
      message: 'Reading successfully ingested',
    });

    const entries = await t.redis.client.xrange(stream, '-', '+');
    expect(entries).toHaveLength(1);
    const [id, fields] = entries[0]!;
    expect(id).toBe(json.stream_id);
    const stored = Object.fromEntries(fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i], fields[i + 1]]])));
    expect(stored).toMatchObject({ site_id: 'site-001', device_id: 'device-001', power_reading: '1500.5', timestamp: body.timestamp });
    expect(Number(stored.received_at)).toBeGreaterThan(Date.now() - 10_000);
  });

  it('accepts Unicode ids as the seed did, stored in one normal form (NFKC) however they were spelled', async () => {
    const spellings = [
      { site_id: 'Z\u00e4hler-1', device_id: '東京-site' },
      { site_id: 'Za\u0308hler-1', device_id: '東京-site' }, // decomposed ä
      { site_id: 'Z\u00e4hler-1', device_id: '東京-\uff53\uff49\uff54\uff45' }, // full-width "site" from an IME
    ];
    for (const ids of spellings) expect((await post(JSON.stringify(seedReading(ids)))).statusCode).toBe(202);
    const entries = await t.redis.client.xrange(stream, '-', '+');
    const stored = entries.map(([, f]) => [f[f.indexOf('site_id') + 1], f[f.indexOf('device_id') + 1]]);
    expect(stored).toEqual(spellings.map(() => ['Z\u00e4hler-1', '東京-site']));
  });

  it.each([
    ['a missing field', { power_reading: undefined }, 'power_reading'],
    ['a typo in a field name', { power_reading: undefined, power_readng: 10 }, 'power_readng'],
    ['a number sent as a string', { power_reading: '1500' }, 'power_reading'],
    ['a zone-less timestamp', { timestamp: '2024-01-15T10:30:00' }, 'timestamp'],
    ['a timestamp far in the future', { timestamp: new Date(Date.now() + 3600_000).toISOString() }, 'timestamp'],
    ['an unsafe site id', { site_id: 'site/../1' }, 'site_id'],
  ])('rejects %s with 400 naming the field, and writes nothing', async (_, patch, field) => {
    const res = await post(JSON.stringify(seedReading(patch)));
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error).toBe('validation_failed');
    expect(body.issues.map((i: { path: string }) => i.path)).toContain(field);
    expect(body.message).toContain(field);
    expect(await t.redis.client.xlen(stream)).toBe(0);
  });

  it('rejects a timestamp older than READING_MAX_AGE_S when one is set, naming the field', async () => {
    const strict = buildIngestApp(ingestConfig(t.redis.url, { READING_MAX_AGE_S: String(7 * 24 * 3600) }));
    try {
      const res = await strict.inject({ method: 'POST', url: '/readings', payload: seedReading({ timestamp: '2001-01-01T00:00:00Z' }) });
      expect(res.statusCode).toBe(400);
      expect(res.json().issues.map((i: { path: string }) => i.path)).toEqual(['timestamp']);
      expect(await t.redis.client.xlen(stream)).toBe(0);
    } finally {
      await strict.close();
    }
  });

  it('answers malformed JSON, an empty body and a JSON array with 400', async () => {
    for (const payload of ['{"site_id": ', '', '[]', 'null']) {
      const res = await post(payload);
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().error).toMatch(/bad_request|validation_failed/);
    }
    expect(await t.redis.client.xlen(stream)).toBe(0);
  });

  it('answers a __proto__ key with 400 and writes nothing', async () => {
    const res = await post('{"__proto__": {"x": 1}, "site_id": "s", "device_id": "d", "power_reading": 1, "timestamp": "2024-01-15T10:30:00Z"}');
    expect(res.statusCode).toBe(400);
    expect(await t.redis.client.xlen(stream)).toBe(0);
  });

  it('answers a wrong content type with 415', async () => {
    const res = await post('site_id=s', { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(415);
    expect(res.json().error).toBe('unsupported_media_type');
  });

  it('answers an oversized body with 413', async () => {
    const small = buildIngestApp(ingestConfig(t.redis.url, { BODY_LIMIT_BYTES: '256' }));
    try {
      const res = await small.inject({
        method: 'POST', url: '/readings', headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(seedReading({ site_id: 'x'.repeat(300) })),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json().error).toBe('payload_too_large');
    } finally {
      await small.close();
    }
  });

  it('answers an unknown route with a 404 error body', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not_found', message: 'No route GET /nope' });
  });
});

describe('GET /health and /metrics', () => {
  it('reports Redis up', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', redis: 'up', stream });
  });

  it('reports stream length, ends and the accepted and rejected counts', async () => {
    const before = (await t.app.inject({ method: 'GET', url: '/metrics' })).json();
    const a = (await post(JSON.stringify(seedReading()))).json().stream_id;
    const b = (await post(JSON.stringify(seedReading()))).json().stream_id;
    await post(JSON.stringify(seedReading({ power_reading: 'x' })));
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    const m = res.json();
    expect(m.stream).toEqual({ name: stream, length: 2, first_id: a, last_id: b, groups: 0 });
    expect(m.readings.accepted - before.readings.accepted).toBe(2);
    expect(m.readings.rejected - before.readings.rejected).toBe(1);
    expect(m.readings.rejected_by_reason.validation_failed).toBeGreaterThanOrEqual(1);
  });
});
