import { describe, expect, it } from 'vitest';
import { redisKeys } from '@energy-pipeline/server-kit';
import { bucketExpiryS, bucketStartS } from '../src/queries/buckets.js';
import { Queries } from '../src/queries/queries.js';
import { Shards } from '../src/queries/shards.js';
import { eventually } from '../../scripts/lib/redis-server.js';
import { STREAM, addReadings, dumpAggregates, reading, shuffled, useWorkers } from './helpers.js';

const t = useWorkers();
const start = (env: Record<string, string>) => {
  const w = t.worker(env);
  w.start();
  return w;
};
const processedBy = async (group: string) => Number((await t.redis.client.hget(redisKeys({ stream: STREAM, group }).stats, 'processed')) ?? 0);

describe('aggregates', () => {
  it('give the same figures with one consumer or eight, whatever the delivery order', async () => {
    // Recent readings, so that every bucket is inside its retention.
    const base = Date.now() - 3 * 3600_000;
    const readings = shuffled(
      Array.from({ length: 2_000 }, (_, i) =>
        reading(i, { timestamp: new Date(base + i * 5_000).toISOString(), power_reading: ((i * 7919) % 20_000) / 3 - 2_000 }),
      ),
    );
    await addReadings(t.redis.client, readings);
    start({ CONSUMER_GROUP: 'one', CONSUMER_NAME: 'solo', READ_COUNT: '500' });
    for (let i = 0; i < 8; i++) start({ CONSUMER_GROUP: 'eight', CONSUMER_NAME: `c${i}`, READ_COUNT: '7' });
    await eventually(async () => (await processedBy('one')) === 2_000 && (await processedBy('eight')) === 2_000, 30_000);

    const one = await dumpAggregates(t.redis.client, 'one');
    const eight = await dumpAggregates(t.redis.client, 'eight');
    expect(Object.keys(one).length).toBeGreaterThan(100);
    expect(eight).toEqual(one);
  });

  it('keep count, sum, min, max per minute and hour for devices and sites, and per-device parts for site energy', async () => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
    const at = (s: number) => new Date(minute + s * 1000).toISOString();
    await addReadings(t.redis.client, [
      { site_id: 's', device_id: 'meter', power_reading: 1000, timestamp: at(0) },
      { site_id: 's', device_id: 'meter', power_reading: 3000, timestamp: at(30) },
      { site_id: 's', device_id: 'pv', power_reading: -500.5, timestamp: at(10) },
    ]);
    const w = start({});
    const k = redisKeys({ stream: STREAM, group: 'test_group' });
    await eventually(async () => (await t.redis.client.hget(k.stats, 'processed')) === '3');

    const startS = bucketStartS('minute', minute);
    expect(await t.redis.client.hgetall(k.deviceBucket('minute', 's', 'meter', startS))).toEqual({
      count: '2', sum_mw: '4000000', min_w: '1000', max_w: '3000',
    });
    expect(await t.redis.client.hgetall(k.siteBucket('minute', 's', startS))).toEqual({
      count: '3', sum_mw: '3499500', min_w: '-500.5', max_w: '3000',
      'c:meter': '2', 's:meter': '4000000', 'c:pv': '1', 's:pv': '-500500',
    });
    const hourKey = k.deviceBucket('hour', 's', 'pv', bucketStartS('hour', minute + 10_000));
    expect(await t.redis.client.hget(hourKey, 'count')).toBe('1');
    // Buckets expire on their own time, not their last write's.
    const expireAt = await t.redis.client.call('EXPIRETIME', hourKey);
    expect(expireAt).toBe(bucketExpiryS('hour', bucketStartS('hour', minute + 10_000), 3600, w.config.consumer.retention));
  });

  it('sum milliwatts rounded half away from zero from the text sent, and keep min and max as sent', async () => {
    const at = new Date(Date.now() - 60_000).toISOString();
    await addReadings(t.redis.client, [
      { site_id: 's', device_id: 'd', power_reading: 0.0015, timestamp: at },
      { site_id: 's', device_id: 'd', power_reading: -0.0015, timestamp: at },
      { site_id: 's', device_id: 'e', power_reading: 1.0005, timestamp: at },
    ]);
    start({});
    const k = redisKeys({ stream: STREAM, group: 'test_group' });
    await eventually(async () => (await t.redis.client.hget(k.stats, 'processed')) === '3');
    expect(await t.redis.client.hgetall(k.device('s', 'd'))).toMatchObject({ count: '2', sum_mw: '0', min_w: '-0.0015', max_w: '0.0015' });
    expect(await t.redis.client.hget(k.device('s', 'e'), 'sum_mw')).toBe('1001');
    expect(await new Queries(t.redis.client, new Shards(t.redis.client, [STREAM], 'test_group'), 100).device('s', 'd')).toMatchObject({ mean_w: 0, min_w: -0.0015, max_w: 0.0015 });
  });

  it('leave out a bucket already past its retention but still count the reading', async () => {
    const old = new Date(Date.now() - 8 * 24 * 3600_000).toISOString();
    await addReadings(t.redis.client, [{ site_id: 's', device_id: 'd', power_reading: 1, timestamp: old }]);
    start({});
    const k = redisKeys({ stream: STREAM, group: 'test_group' });
    await eventually(async () => (await t.redis.client.hget(k.stats, 'processed')) === '1');
    const startMs = Date.parse(old);
    expect(await t.redis.client.exists(k.deviceBucket('minute', 's', 'd', bucketStartS('minute', startMs)))).toBe(0);
    expect(await t.redis.client.hget(k.deviceBucket('hour', 's', 'd', bucketStartS('hour', startMs)), 'count')).toBe('1');
    expect(await t.redis.client.hget(k.device('s', 'd'), 'count')).toBe('1');
  });
});

describe('bucket expiry', () => {
  const retention = { minuteS: 7 * 86_400, hourS: 400 * 86_400, dayS: 1098 * 86_400, monthS: 3660 * 86_400 };
  it('is the bucket end plus its retention, or 0 once that has passed', () => {
    const now = Date.parse('2024-06-01T00:00:00Z');
    const startS = bucketStartS('minute', now - 60_000);
    expect(bucketExpiryS('minute', startS, 60, retention, now)).toBe(startS + 60 + retention.minuteS);
    expect(bucketExpiryS('minute', startS - retention.minuteS, 60, retention, now)).toBe(0);
    expect(bucketStartS('hour', Date.parse('2024-06-01T10:59:59Z'))).toBe(Date.parse('2024-06-01T10:00:00Z') / 1000);
  });
});
