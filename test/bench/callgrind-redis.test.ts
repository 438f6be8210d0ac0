import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallgrindRedis, startCallgrindRedis } from '../../scripts/bench/callgrind-redis.js';
import { ensureCommand } from '../support/ensure-command.js';

let redis: CallgrindRedis;
beforeAll(async () => {
  ensureCommand('valgrind', 'valgrind', 'brew install valgrind');
  redis = await startCallgrindRedis();
}, 90_000);
afterAll(async () => redis?.stop(), 30_000);

/** Instructions Redis runs inside `calls` calls of a script that adds up 1..n. */
async function countOf(n: number, calls = 20): Promise<number> {
  redis.zero();
  for (let i = 0; i < calls; i++) {
    expect(await redis.client.eval('local s = 0 for i = 1, tonumber(ARGV[1]) do s = s + i end return s', 0, n)).toBe((n * (n + 1)) / 2);
  }
  return redis.count();
}

describe("bench:profile's instruction counter (redis-server under callgrind)", () => {
  it('counts what runs inside scripts: the same for the same work, ten times as much for ten times the work', async () => {
    const once = await countOf(1_000);
    const again = await countOf(1_000);
    const tenfold = await countOf(10_000);
    expect(once).toBeGreaterThan(20 * 1_000);
    expect(Math.abs(again - once) / once).toBeLessThan(0.02);
    expect(tenfold / once).toBeGreaterThan(7);
    expect(tenfold / once).toBeLessThan(13);
    // Outside scripts nothing is counted.
    redis.zero();
    for (let i = 0; i < 100; i++) await redis.client.set(`k${i}`, 'v');
    expect(redis.count()).toBe(0);
  }, 120_000);
});
