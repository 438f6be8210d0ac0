import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRedis, waitReady } from '@energy-pipeline/server-kit';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { RateCounts } from '../src/store/rate-counts.js';

let redis: TestRedis;
const opened: { counts: RateCounts; conn: ReturnType<typeof createRedis> }[] = [];
const warnings: string[] = [];

/** One ingest replica's counts, on its own connection, once it is connected (as the store plugin waits for it). */
async function replica(options: { syncMs?: number; windowMs?: number } = {}) {
  const conn = createRedis({ url: redis.url, role: 'commands', name: 'rate-counts-test', commandTimeoutMs: 500 });
  const counts = new RateCounts(conn, {
    prefix: 'ep:rate-limit:',
    syncMs: options.syncMs ?? 20,
    windowMs: options.windowMs ?? 60_000,
    log: { warn: (_details, message) => warnings.push(message) },
  });
  opened.push({ counts, conn });
  await waitReady(conn);
  return counts;
}

const shared = async (key: string) => Number((await redis.client.get(`ep:rate-limit:${key}`)) ?? 0);

beforeAll(async () => {
  redis = await startRedisServer();
});
afterEach(async () => {
  for (const { counts, conn } of opened.splice(0)) {
    await counts.close();
    conn.disconnect();
  }
});
afterAll(async () => {
  await redis.stop();
});
beforeEach(async () => {
  await redis.client.flushdb();
  warnings.length = 0;
});

describe('rate-limit counts shared through Redis', () => {
  it('counts exactly in one replica, and adds its counts to the key in Redis, which expires with the window', async () => {
    const one = await replica({ windowMs: 30_000 });
    const seen = Array.from({ length: 5 }, () => one.incr('key:a').current);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(one.incr('key:b').current).toBe(1);
    await eventually(async () => (await shared('key:a')) === 5);
    expect(await shared('key:b')).toBe(1);
    const ttl = await redis.client.pttl('ep:rate-limit:key:a');
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
    expect(one.incr('key:a').ttl).toBeLessThanOrEqual(30_000);
  });

  it("learns the other replicas' counts at its next sync: the limit holds across replicas within one sync interval", async () => {
    const [one, two] = [await replica(), await replica()];
    for (let i = 0; i < 3; i++) one.incr('key:a');
    await eventually(async () => (await shared('key:a')) === 3);
    // Two has not synced this key yet: it knows only its own count...
    expect(two.incr('key:a').current).toBe(1);
    await eventually(async () => (await shared('key:a')) === 4);
    // ...until its sync answered with everyone's.
    await eventually(() => two.incr('key:a').current >= 5);
    await eventually(async () => (await shared('key:a')) === (await sharedCountOf(two)));
  });

  it('takes the window from Redis, so that replicas end it together, and forgets keys whose window is over', async () => {
    const [one, two] = [await replica({ windowMs: 300 }), await replica({ windowMs: 300 })];
    one.incr('key:a');
    await eventually(async () => (await shared('key:a')) === 1);
    await new Promise((r) => setTimeout(r, 150));
    two.incr('key:a');
    // Two's window ends with the key's in Redis, ~150 ms from now, not 300 ms after its own first count.
    await eventually(async () => (await shared('key:a')) === 2);
    // (Its own guess, from its first count, would have been ~300 ms.)
    await eventually(() => (two.incr('key:a').ttl < 250 ? true : null));
    await eventually(async () => (await redis.client.exists('ep:rate-limit:key:a')) === 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(one.incr('key:a').current).toBe(1);
    // A sync after the window forgets keys with nothing counted since.
    await new Promise((r) => setTimeout(r, 350));
    one.incr('key:c');
    await eventually(() => (one.size === 1 ? true : null));
  });

  it('keeps counting per replica while Redis does not answer, says so once, and shares again when it is back', async () => {
    const one = await replica();
    one.incr('key:a');
    await eventually(async () => (await shared('key:a')) === 1);
    redis.freeze();
    try {
      const during = Array.from({ length: 4 }, () => one.incr('key:a').current);
      expect(during).toEqual([2, 3, 4, 5]);
      await eventually(() => (warnings.length > 0 ? true : null), 5_000);
      for (let i = 0; i < 3; i++) one.incr('key:a');
      await new Promise((r) => setTimeout(r, 1_200));
      expect(one.incr('key:a').current).toBe(9);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('counting per replica');
    } finally {
      redis.thaw();
    }
    one.incr('key:a');
    await eventually(async () => (await shared('key:a')) >= 2);
  });

  it('with RATE_LIMIT_SYNC_MS=0 counts each request in Redis at once, exact across replicas, and answers null while Redis does not', async () => {
    const [one, two] = [await replica({ syncMs: 0, windowMs: 30_000 }), await replica({ syncMs: 0, windowMs: 30_000 })];
    const seen = [await one.incrShared('key:a'), await two.incrShared('key:a'), await one.incrShared('key:a')];
    expect(seen.map((s) => s?.current)).toEqual([1, 2, 3]);
    expect(seen[2]!.ttl).toBeGreaterThan(25_000);
    expect(seen[2]!.ttl).toBeLessThanOrEqual(30_000);
    expect(await shared('key:a')).toBe(3);
    redis.freeze();
    try {
      // The connection's command timeout (500 ms here; a quarter of REDIS_COMMAND_TIMEOUT_MS in ingest).
      expect(await one.incrShared('key:a')).toBeNull();
    } finally {
      redis.thaw();
    }
    expect((await two.incrShared('key:a'))?.current).toBeGreaterThanOrEqual(4);
  });

  it('sends what is still counted on close, once, and stops syncing after it', async () => {
    const one = await replica({ syncMs: 60_000 });
    for (let i = 0; i < 4; i++) one.incr('key:a');
    expect(await shared('key:a')).toBe(0);
    await one.close();
    expect(await shared('key:a')).toBe(4);
    await one.close();
    one.incr('key:a');
    await new Promise((r) => setTimeout(r, 50));
    expect(await shared('key:a')).toBe(4);
  });
});

/** What a replica believes the key's shared count is: its next count minus the one it adds. */
async function sharedCountOf(counts: RateCounts) {
  return counts.incr('key:a').current - 1;
}
