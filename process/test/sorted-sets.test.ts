import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { eventually } from '../../scripts/lib/redis-server.js';
import { SetToSortedSet } from '../src/worker/set-to-sorted-set.js';
import { migrateIdListsToSortedSets } from '../src/worker/sorted-sets.js';
import { addReadings, keys, reading, useWorkers } from './helpers.js';

const t = useWorkers();
const log = pino({ level: 'silent' });

/** The id lists as processors before paginated queries left them: plain sets. */
async function oldLayout(devicesAtS1: number) {
  const r = t.redis.client;
  await r.sadd(keys.sites, 's1', 's2');
  await r.sadd(keys.siteDevices('s1'), ...Array.from({ length: devicesAtS1 }, (_, i) => `d${i}`));
  await r.sadd(keys.siteDevices('s2'), 'd0');
  await r.hset(keys.stats, 'processed', '7');
}

const members = async (key: string) => {
  expect(await t.redis.client.type(key)).toBe('zset');
  const flat = await t.redis.client.zrange(key, 0, -1, 'WITHSCORES');
  expect(flat.filter((_, i) => i % 2 === 1).every((score) => score === '0')).toBe(true);
  return flat.filter((_, i) => i % 2 === 0);
};

describe('moving the id lists to sorted sets', () => {
  it('converts the sets an older processor wrote before the consumer applies anything, and keeps counting', async () => {
    await oldLayout(2500); // more members than one ZADD call takes in the script
    await addReadings(t.redis.client, [reading(1, { site_id: 's1', device_id: 'new-device' }), reading(2, { site_id: 's3', device_id: 'd0' })]);
    t.worker().start();
    await eventually(async () => (await t.processed()) === 9);
    expect(await members(keys.sites)).toEqual(['s1', 's2', 's3']);
    expect(await members(keys.siteDevices('s1'))).toHaveLength(2501);
    expect(await members(keys.siteDevices('s1'))).toContain('new-device');
    expect(await members(keys.siteDevices('s2'))).toEqual(['d0']);
    expect(await t.redis.client.hget(keys.stats, 'id_lists')).toBe('sorted');
  });

  it('is harmless to run again, and leaves keys of any other type alone', async () => {
    const redis = t.redis.client.duplicate();
    const setToSortedSet = (key: string) => new SetToSortedSet(redis).run(key);
    try {
      await oldLayout(3);
      await migrateIdListsToSortedSets(redis, keys, log);
      await migrateIdListsToSortedSets(redis, keys, log);
      expect(await members(keys.siteDevices('s1'))).toEqual(['d0', 'd1', 'd2']);
      await t.redis.client.set('a-string', 'x');
      expect(await setToSortedSet('a-string')).toBe(-1);
      expect(await setToSortedSet(keys.sites)).toBe(-1);
      expect(await setToSortedSet('no-such-key')).toBe(-1);
      expect(await t.redis.client.get('a-string')).toBe('x');
    } finally {
      redis.disconnect();
    }
  });
});
