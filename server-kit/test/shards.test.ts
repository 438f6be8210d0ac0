import { describe, expect, it } from 'vitest';
import { CLUSTER_SLOTS, hashTag, keySlot, shardOf, shardStreams } from '@energy-pipeline/server-kit';

describe('shard streams', () => {
  it('keep the configured name with one shard, as the seed has it', () => {
    expect(shardStreams('energy_readings', 1)).toEqual(['energy_readings']);
  });

  it('get a hash tag each, placing shard i in the i-th of n equal slot ranges', () => {
    for (const n of [2, 3, 6, 16]) {
      const names = shardStreams('energy_readings', n);
      expect(new Set(names).size).toBe(n);
      names.forEach((name, i) => {
        expect(name).toMatch(/^energy_readings\{energy_readings\.\d+\.\d+\}$/);
        const slot = keySlot(name);
        expect(slot).toBeGreaterThanOrEqual(Math.floor((i * CLUSTER_SLOTS) / n));
        expect(slot).toBeLessThan(Math.floor(((i + 1) * CLUSTER_SLOTS) / n));
        // Every key of a shard shares its stream's slot.
        expect(keySlot(`ep:${hashTag(name)}:g:stats`)).toBe(slot);
      });
    }
  });

  it('compute slots as Redis does', () => {
    const names = shardStreams('energy_readings', 6);
    // The CRC16 test vector of the Redis Cluster specification, and a tagged key.
    expect(keySlot('123456789')).toBe(0x31c3 % CLUSTER_SLOTS);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot(names[0]!)).toBe(keySlot(hashTag(names[0]!).slice(1, -1)));
  });

  it('refuse a sharded name that carries its own tag', () => {
    expect(() => shardStreams('readings:{eu}', 3)).toThrow(/hash tag/);
  });
});

describe('shardOf', () => {
  const sites = Array.from({ length: 6_000 }, (_, i) => `site-${i}`);

  it('maps a site to the same shard every time, spread evenly', () => {
    const counts = new Array(6).fill(0);
    for (const s of sites) counts[shardOf(s, 6)] += 1;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(shardOf('東京-site', 6)).toBe(shardOf('東京-site', 6));
    expect(shardOf('anything', 1)).toBe(0);
  });

  it('moves only the sites that go to the new shard when one is added (jump consistent hash)', () => {
    const moved = sites.filter((s) => shardOf(s, 6) !== shardOf(s, 7));
    expect(moved.every((s) => shardOf(s, 7) === 6)).toBe(true);
    expect(moved.length).toBeGreaterThan(sites.length / 7 - 200);
    expect(moved.length).toBeLessThan(sites.length / 7 + 200);
  });
});
