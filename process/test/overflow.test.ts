import { describe, expect, it } from 'vitest';
import { eventually } from '../../scripts/lib/redis-server.js';
import { GROUP, STREAM, addReadings, keys, reading, useWorkers } from './helpers.js';

const t = useWorkers();
/** Largest value HINCRBY holds (int64). */
const INT64_MAX = 9_223_372_036_854_775_807n;

/**
 * A sum at the edge of int64: the next reading's HINCRBY would overflow. Every check that can fail
 * must run before the first write, so such a reading is never acknowledged without being applied:
 * it goes to the dead letters, and everything else keeps flowing.
 */
describe('a sum at the edge of int64', () => {
  it('sends the reading that would overflow it to the dead letters, leaving every figure as it was', async () => {
    const edge = (INT64_MAX - 1_000n).toString();
    const deviceKey = keys.device('site-o', 'meter');
    await t.redis.client.hset(deviceKey, { count: '5', sum_mw: edge, min_w: '1', max_w: '1' });
    const before = await t.redis.client.hgetall(deviceKey);
    const overflowing = reading(0, { site_id: 'site-o', device_id: 'meter', power_reading: 2 }); // 2000 mW
    const fine = Array.from({ length: 20 }, (_, i) => reading(i + 1, { site_id: 'site-o', device_id: `other-${i % 4}` }));
    await addReadings(t.redis.client, [...fine.slice(0, 10), overflowing, ...fine.slice(10)]);
    t.worker().start();

    await eventually(async () => (await t.processed()) === 20);
    await eventually(async () => (await t.redis.client.xlen(keys.deadLetters)) === 1);
    const [[, dead]] = (await t.redis.client.xrange(keys.deadLetters, '-', '+')) as [string, string[]][] as [[string, string[]]];
    const f = Object.fromEntries(dead.map((v, i, a) => (i % 2 === 0 ? [v, a[i + 1]] : [])).filter((p) => p.length));
    expect(f).toMatchObject({ reason: 'overflow' });
    expect(JSON.parse(f.fields!)).toMatchObject({ site_id: 'site-o', device_id: 'meter', power_reading: '2' });
    // Not half-applied: the device, its site and its buckets show nothing of it.
    expect(await t.redis.client.hgetall(deviceKey)).toEqual(before);
    expect(await t.redis.client.hget(keys.site('site-o'), 'count')).toBe('20');
    // Nothing acknowledged without being applied or dead-lettered.
    expect((await t.redis.client.xpending(STREAM, GROUP))[0]).toBe(0);
    expect(await t.redis.client.hget(keys.stats, 'processed')).toBe('20');
  });

  it('protects a site sum the same way, and later readings of that site that fit still count', async () => {
    // 100 kW short of the edge: +40 kW fits, a further +70 kW would not, -3 kW fits again.
    const edge = (INT64_MAX - 100_000_000n).toString();
    await t.redis.client.hset(keys.site('site-e'), { count: '1', sum_mw: edge, min_w: '1', max_w: '1' });
    await addReadings(t.redis.client, [
      reading(0, { site_id: 'site-e', device_id: 'a', power_reading: 40_000 }),
      reading(1, { site_id: 'site-e', device_id: 'b', power_reading: 70_000 }),
      reading(2, { site_id: 'site-e', device_id: 'c', power_reading: -3_000 }),
    ]);
    t.worker().start();
    await eventually(async () => (await t.processed()) === 2);
    await eventually(async () => (await t.redis.client.xlen(keys.deadLetters)) === 1);
    expect(await t.redis.client.hget(keys.site('site-e'), 'sum_mw')).toBe((INT64_MAX - 100_000_000n + 40_000_000n - 3_000_000n).toString());
    expect(await t.redis.client.exists(keys.device('site-e', 'b'))).toBe(0);
    expect((await t.redis.client.xpending(STREAM, GROUP))[0]).toBe(0);
  });
});
