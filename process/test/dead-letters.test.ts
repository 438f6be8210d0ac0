import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { processApp } from '../../test/support/process-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { GROUP, STREAM, actualDeviceTotals, addReadings, expectedDeviceTotals, keys, processConfig, reading } from './helpers.js';

let redis: TestRedis;
let app: FastifyInstance;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await app?.close();
  await redis.stop();
});
beforeEach(async () => {
  await app?.close();
  await redis.client.flushall(); // our own private server
  app = processApp(processConfig(redis.url, { MAX_DELIVERIES: '3', READ_COUNT: '10' }));
  await app.ready();
});

const processed = async () => Number((await redis.client.hget(keys.stats, 'processed')) ?? 0);
const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
  app.inject({ method, url, ...(payload ? { payload } : {}) });

describe('dead letters', () => {
  it('moves a poison entry there after MAX_DELIVERIES while everything else keeps flowing', async () => {
    // A corrupted aggregate key makes every step for this device fail before it writes anything.
    const poison = reading(0, { site_id: 'site-p', device_id: 'poison' });
    await redis.client.set(keys.device('site-p', 'poison'), 'not a hash');
    const others = Array.from({ length: 60 }, (_, i) => reading(i + 1));
    await addReadings(redis.client, [...others.slice(0, 30), poison, ...others.slice(30)]);
    app.worker.start();

    await eventually(async () => (await redis.client.xlen(keys.deadLetters)) === 1, 20_000, 50);
    await eventually(async () => (await processed()) === 60);
    const expected = expectedDeviceTotals(others);
    expect(await actualDeviceTotals(redis.client, expected.keys())).toEqual(expected);
    expect((await redis.client.xpending(STREAM, GROUP))[0]).toBe(0);

    const page = (await inject('GET', '/dead-letters')).json();
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ reason: 'max_deliveries', deliveries: 4, fields: { device_id: 'poison', site_id: 'site-p' } });
    expect(page.next).toBeNull();
  });

  it('lists with filters and a cursor, replays one into the main stream, and deletes', async () => {
    app.worker.start();
    await redis.client.xadd(STREAM, '*', 'site_id', 'a', 'device_id', 'd1', 'power_reading', 'NaNish', 'timestamp', 'now');
    await redis.client.xadd(STREAM, '*', 'site_id', 'b', 'device_id', 'd2', 'power_reading', '1', 'timestamp', 'yesterday');
    await redis.client.xadd(STREAM, '*', 'site_id', 'b', 'device_id', 'd3', 'power_reading', '2', 'timestamp', 'later');
    await eventually(async () => (await redis.client.xlen(keys.deadLetters)) === 3);

    const first = (await inject('GET', '/dead-letters?limit=2')).json();
    expect(first.items).toHaveLength(2);
    const rest = (await inject('GET', `/dead-letters?limit=2&after=${first.next}`)).json();
    expect(rest.items).toHaveLength(1);
    expect(rest.next).toBeNull();
    const siteB = (await inject('GET', '/dead-letters?site_id=b&reason=validation_failed')).json();
    expect(siteB.items.map((d: { fields: { device_id: string } }) => d.fields.device_id)).toEqual(['d2', 'd3']);
    expect(siteB.items[0].detail).toContain('timestamp');

    // Replaying puts the entry back as it was; it fails validation again and comes back.
    const lengthBefore = await redis.client.xlen(STREAM);
    const replay = await inject('POST', `/dead-letters/${siteB.items[0].id}/replay`);
    expect(replay.statusCode).toBe(200);
    expect(replay.json().replayed).toBe(1);
    expect(await redis.client.xlen(STREAM)).toBe(lengthBefore + 1);
    const [, fields] = (await redis.client.xrange(STREAM, replay.json().stream_ids[0], '+'))[0]!;
    expect(fields).toEqual(['site_id', 'b', 'device_id', 'd2', 'power_reading', '1', 'timestamp', 'yesterday']);
    expect((await inject('POST', `/dead-letters/${siteB.items[0].id}/replay`)).statusCode).toBe(404);

    await eventually(async () => (await redis.client.xlen(keys.deadLetters)) === 3);
    const deleted = await inject('POST', '/dead-letters/delete', { site_id: 'b' });
    expect(deleted.json()).toEqual({ deleted: 2 });
    const [remaining] = (await inject('GET', '/dead-letters')).json().items;
    expect((await inject('DELETE', `/dead-letters/${remaining.id}`)).json()).toEqual({ deleted: 1 });
    expect((await inject('DELETE', `/dead-letters/${remaining.id}`)).statusCode).toBe(404);
    expect(await redis.client.xlen(keys.deadLetters)).toBe(0);
  });

  it('replays every match of a filter so that fixed entries are processed', async () => {
    // Entries that kept failing while a key was corrupted succeed once it is repaired.
    await redis.client.set(keys.device('s', 'd'), 'corrupt');
    await addReadings(redis.client, [reading(1, { site_id: 's', device_id: 'd' }), reading(2, { site_id: 's', device_id: 'd' })]);
    app.worker.start();
    await eventually(async () => (await redis.client.xlen(keys.deadLetters)) === 2, 20_000, 50);
    await redis.client.del(keys.device('s', 'd'));

    const res = await inject('POST', '/dead-letters/replay', { reason: 'max_deliveries' });
    expect(res.json().replayed).toBe(2);
    await eventually(async () => (await redis.client.hget(keys.device('s', 'd'), 'count')) === '2');
    expect(await redis.client.xlen(keys.deadLetters)).toBe(0);
  });

  it.each([
    ['POST', '/dead-letters/99999999999999999999999-0/replay', 'params', 'id'],
    ['DELETE', '/dead-letters/99999999999999999999999-0', 'params', 'id'],
    ['DELETE', '/dead-letters/18446744073709551616-0', 'params', 'id'],
    ['POST', '/dead-letters/0-18446744073709551616/replay', 'params', 'id'],
    ['GET', '/dead-letters?after=18446744073709551615-18446744073709551615', 'query', 'after'],
    ['GET', '/dead-letters?after=18446744073709551616-0', 'query', 'after'],
    ['GET', '/dead-letters?after=1-99999999999999999999999', 'query', 'after'],
  ] as const)('answers %s %s, a stream id Redis cannot take, with 400 naming it', async (method, url, where, field) => {
    await redis.client.xadd(keys.deadLetters, '*', 'original_id', '1-0', 'reason', 'invalid', 'fields', '{}');
    const res = await inject(method, url);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'validation_failed', issues: [{ in: where, path: field }] });
    expect(await redis.client.xlen(keys.deadLetters)).toBe(1);
  });

  it('lists a dead letter stored before the error codes were one set (reason `invalid`) as validation_failed', async () => {
    await redis.client.xadd(keys.deadLetters, '*', 'original_id', '1-0', 'reason', 'invalid', 'fields', '{"site_id":"old"}');
    const found = (await inject('GET', '/dead-letters?reason=validation_failed')).json();
    expect(found.items.map((d: { reason: string; fields: { site_id: string } }) => [d.reason, d.fields.site_id])).toEqual([['validation_failed', 'old']]);
  });

  it('takes the largest stream ids Redis can hold, as ids and as a cursor', async () => {
    const largest = '18446744073709551615-18446744073709551615';
    expect((await inject('DELETE', `/dead-letters/${largest}`)).statusCode).toBe(404);
    expect((await inject('POST', `/dead-letters/${largest}/replay`)).statusCode).toBe(404);
    const last = await inject('GET', '/dead-letters?after=18446744073709551615-18446744073709551614');
    expect(last.statusCode).toBe(200);
    expect(last.json()).toEqual({ items: [], next: null });
  });

  it('rejects a malformed dead-letter id with 400', async () => {
    const res = await inject('DELETE', '/dead-letters/not-an-id');
    expect(res.statusCode).toBe(400);
    expect(res.json().issues[0]).toMatchObject({ in: 'params', path: 'id' });
  });
});
