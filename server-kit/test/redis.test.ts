import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { closeRedis, createRedis, isRedisUnavailable, waitReady } from '@energy-pipeline/server-kit';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';

/** The error a command fails with, from a real connection to a real redis-server. */
const failure = async (command: Promise<unknown>) => command.then(
  () => {
    throw new Error('the command succeeded');
  },
  (err: unknown) => err,
);

let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis({ url: server.url, role: 'commands', name: 'test', commandTimeoutMs: 300 }) as Redis;
  await waitReady(redis);
});
afterAll(async () => {
  server.thaw();
  await closeRedis(redis);
  await server.stop();
});

describe('isRedisUnavailable', () => {
  it('is false for what a command was asked: a wrong type, bad arguments, our own bugs', async () => {
    await server.client.set('a-string', 'x');
    expect(isRedisUnavailable(await failure(redis.zrange('a-string', 0, -1)))).toBe(false); // WRONGTYPE
    expect(isRedisUnavailable(await failure(redis.call('XRANGE', 's', '(18446744073709551615-18446744073709551615', '+')))).toBe(false);
    expect(isRedisUnavailable(await failure(redis.call('NO-SUCH-COMMAND')))).toBe(false);
    expect(isRedisUnavailable(new TypeError("Cannot read properties of undefined (reading 'count')"))).toBe(false);
    expect(isRedisUnavailable('Command timed out')).toBe(false); // not an Error at all
  });

  it('is true when Redis is out of memory under noeviction: writes are refused until memory is freed', async () => {
    await server.client.config('SET', 'maxmemory-policy', 'noeviction');
    await server.client.config('SET', 'maxmemory', '1');
    try {
      const err = await failure(redis.set('k', 'v'));
      expect(String(err)).toMatch(/OOM/);
      expect(isRedisUnavailable(err)).toBe(true);
    } finally {
      await server.client.config('SET', 'maxmemory', '0');
    }
  });

  it('is true while a script keeps Redis busy', async () => {
    await server.client.config('SET', 'busy-reply-threshold', '50');
    const spinner = createRedis({ url: server.url, role: 'blocking', name: 'spinner' });
    await waitReady(spinner);
    try {
      const spinning = spinner.eval('local t = redis.call("TIME"); while true do end', 0).catch(() => {});
      await new Promise((r) => setTimeout(r, 150));
      const err = await failure(redis.get('k'));
      expect(String(err)).toMatch(/BUSY/);
      expect(isRedisUnavailable(err)).toBe(true);
      await server.client.call('SCRIPT', 'KILL').catch(() => {});
      await spinning;
    } finally {
      spinner.disconnect();
    }
  });

  it('is true when a command gets no answer in time (a frozen Redis)', async () => {
    server.freeze();
    try {
      const err = await failure(redis.get('k'));
      expect(String(err)).toMatch(/timed out/);
      expect(isRedisUnavailable(err)).toBe(true);
    } finally {
      server.thaw();
    }
  });

  it('is true when the connection drops with a command in flight, and while it reconnects', async () => {
    const conn = createRedis({ url: server.url, role: 'blocking', name: 'dropped' });
    await waitReady(conn);
    try {
      const inFlight = failure(conn.blpop('nothing-ever', 5));
      await new Promise((r) => setTimeout(r, 50));
      await server.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      expect(isRedisUnavailable(await inFlight)).toBe(true);
      // Reconnecting: ioredis refuses at once rather than queue the command.
      expect(isRedisUnavailable(await failure(conn.get('k')))).toBe(true);
    } finally {
      conn.disconnect();
    }
    expect(isRedisUnavailable(await failure(conn.get('k')))).toBe(true); // closed for good
  });
});
