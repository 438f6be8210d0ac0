import { describe, expect, it } from 'vitest';
import { LeaveGroup } from '../src/worker/leave-group.js';
import { ensureGroup } from '../src/worker/group.js';
import { eventually } from '../../scripts/lib/redis-server.js';
import { GROUP, STREAM, addReadings, keys, reading, useWorkers } from './helpers.js';

// No live retention: these tests are about what the groups still need (see the last one).
const t = useWorkers({ env: { TRIM_INTERVAL_MS: '0', LIVE_RETENTION_S: '0' } });
const { worker, processed } = t;
const consumerNames = async () =>
  ((await t.redis.client.call('XINFO', 'CONSUMERS', STREAM, GROUP)) as string[][]).map((c) => c[c.indexOf('name') + 1]);

describe('trimming', () => {
  it('never removes an entry a lagging consumer or another group has not acknowledged', async () => {
    await ensureGroup(t.redis.client, STREAM, GROUP);
    await ensureGroup(t.redis.client, STREAM, 'late_group'); // reads nothing during the test
    const ids = await addReadings(t.redis.client, Array.from({ length: 40 }, (_, i) => reading(i)));
    const w = worker();
    await w.ready();

    // Another group that has read nothing holds everything back.
    expect(await w.trimOnce()).toBe(0);
    await t.redis.client.xgroup('DESTROY', STREAM, 'late_group');

    // A lagging consumer holds entries 10..19 without acknowledging them; 0..9 are done.
    await t.redis.client.xreadgroup('GROUP', GROUP, 'laggard', 'COUNT', 20, 'STREAMS', STREAM, '>');
    await t.redis.client.xack(STREAM, GROUP, ...ids.slice(0, 10));
    expect(await w.trimOnce()).toBe(10);
    expect((await t.redis.client.xrange(STREAM, '-', '+')).map(([id]) => id)).toEqual(ids.slice(10));

    // Once the laggard catches up, only what nobody needs goes; undelivered entries stay.
    await t.redis.client.xack(STREAM, GROUP, ...ids.slice(10, 20));
    expect(await w.trimOnce()).toBe(9); // the last delivered entry stays as the boundary
    expect((await t.redis.client.xrange(STREAM, '-', '+')).map(([id]) => id)).toEqual(ids.slice(19));
  });

  it('trims in the background while consumers process, without losing a reading', async () => {
    const pair = ['a', 'b'].map((name) => worker({ CONSUMER_NAME: name, TRIM_INTERVAL_MS: '20', READ_COUNT: '5' }));
    for (const w of pair) w.start();
    for (let i = 0; i < 10; i++) await addReadings(t.redis.client, Array.from({ length: 30 }, (_, j) => reading(i * 30 + j)));
    await eventually(async () => (await processed()) === 300, 20_000);
    await eventually(async () => (await t.redis.client.xlen(STREAM)) <= 1);
    expect(pair[0]!.status().trimmed + pair[1]!.status().trimmed).toBe(299);
  });

  it('keeps the last LIVE_RETENTION_S of entries for live subscribers, acknowledged or not', async () => {
    const w = worker({ LIVE_RETENTION_S: '2' });
    await w.ready();
    w.start();
    await addReadings(t.redis.client, Array.from({ length: 10 }, (_, i) => reading(i)));
    await eventually(async () => (await processed()) === 10);
    // All acknowledged, but younger than 2 s: they stay for a subscriber that reconnects.
    expect(await w.trimOnce()).toBe(0);
    expect(await t.redis.client.xlen(STREAM)).toBe(10);
    await new Promise((r) => setTimeout(r, 2_100));
    const fresh = await addReadings(t.redis.client, [reading(10)]);
    await eventually(async () => (await processed()) === 11);
    // Older than the bound now: they go; the fresh one stays.
    expect(await w.trimOnce()).toBe(10);
    expect((await t.redis.client.xrange(STREAM, '-', '+')).map(([id]) => id)).toEqual(fresh);
  });
});

describe('leaving the group', () => {
  it('a consumer that stops gracefully leaves the group when it holds nothing', async () => {
    const w = worker({ CONSUMER_NAME: 'leaver' });
    w.start();
    await addReadings(t.redis.client, [reading(1)]);
    await eventually(async () => (await processed()) === 1);
    expect(await consumerNames()).toContain('leaver');
    await w.stop();
    expect(await consumerNames()).not.toContain('leaver');
  });

  it('never removes a consumer that still holds entries', async () => {
    await ensureGroup(t.redis.client, STREAM, GROUP);
    await addReadings(t.redis.client, [reading(1)]);
    await t.redis.client.xreadgroup('GROUP', GROUP, 'holder', 'STREAMS', STREAM, '>');
    const commands = t.redis.client.duplicate();
    try {
      expect(await new LeaveGroup(commands).run(STREAM, { group: GROUP, consumer: 'holder' })).toBe(0);
      expect(await consumerNames()).toContain('holder');
    } finally {
      commands.disconnect();
    }
  });

  it('the claimer removes other consumers idle past the limit that hold nothing', async () => {
    await ensureGroup(t.redis.client, STREAM, GROUP);
    await t.redis.client.xgroup('CREATECONSUMER', STREAM, GROUP, 'gone-pod');
    await new Promise((r) => setTimeout(r, 50));
    const w = worker({ CONSUMER_IDLE_DELETE_MS: '10' });
    await w.ready();
    const removed = await w.removeIdleConsumers();
    expect(removed).toBe(1);
    expect(await consumerNames()).not.toContain('gone-pod');
  });
});

describe('a dropped connection', () => {
  it('is reconnected and reading resumes, for the blocking reader and the command connection alike', async () => {
    const w = worker({ CONSUMER_NAME: 'dropped', READ_BLOCK_MS: '1000' });
    w.start();
    await addReadings(t.redis.client, [reading(1)]);
    await eventually(async () => (await processed()) === 1);

    // What a proxy restart or a NAT timeout does: the server closes the worker's sockets
    // (its blocking reader and its command connection) under it.
    expect(await t.redis.client.call('CLIENT', 'KILL', 'USER', 'default', 'SKIPME', 'yes')).toBe(2);
    await addReadings(t.redis.client, [reading(2), reading(3)]);
    await eventually(async () => (await processed()) === 3, 15_000, 50);
    expect(w.status().running).toBe(true);
  });
});

describe('a Redis that stops answering', () => {
  it('does not hang the reader: the watchdog reconnects and processing resumes', async () => {
    const w = worker({ READ_BLOCK_MS: '100', REDIS_COMMAND_TIMEOUT_MS: '500' });
    w.start();
    await addReadings(t.redis.client, [reading(1)]);
    await eventually(async () => (await processed()) === 1);

    t.redis.freeze(); // TCP stays up, nothing answers: a blocking read would wait for ever
    await eventually(() => w.status().watchdogTrips > 0, 15_000, 100);
    t.redis.thaw();

    await eventually(async () => {
      await addReadings(t.redis.client, [reading(2)]);
      return true;
    }, 15_000, 200);
    await eventually(async () => (await processed()) >= 2, 20_000, 100);
    expect(w.status().running).toBe(true);
  });
});

describe('a consumer that is slow, not dead', () => {
  it('does not count again what another consumer claimed and applied meanwhile', async () => {
    const { spawnService } = await import('../../scripts/lib/spawn-service.js');
    await ensureGroup(t.redis.client, STREAM, GROUP);
    const slow = spawnService('process', {
      REDIS_URL: t.redis.url, PORT: '0', HOST: '127.0.0.1', AUTH_DISABLED: 'true', REDIS_STREAM: STREAM, CONSUMER_GROUP: GROUP,
      CONSUMER_NAME: 'slow', READ_BLOCK_MS: '5000', CLAIM_INTERVAL_MS: '600000', TRIM_INTERVAL_MS: '0',
    });
    try {
      // Wait until it is blocked in XREADGROUP, then freeze it: entries are delivered to it
      // (they enter its pending list) while it cannot act on them.
      const blockedReader = async () =>
        ((await t.redis.client.call('CLIENT', 'LIST')) as string)
          .split('\n')
          .some((line) => line.includes('name=ep-process-slow-reader') && / flags=b /.test(line));
      await eventually(blockedReader, 20_000, 50);
      slow.child.kill('SIGSTOP');
      await addReadings(t.redis.client, Array.from({ length: 10 }, (_, i) => reading(i)));
      // A blocked read is served by the first XADD: the frozen consumer now holds one entry.
      await eventually(async () => (await t.redis.client.xpending(STREAM, GROUP))[0] === 1);

      // A live consumer reads the other nine and takes that one over once idle.
      const live = worker({ CONSUMER_NAME: 'live', CLAIM_MIN_IDLE_MS: '200', CLAIM_INTERVAL_MS: '100' });
      live.start();
      await eventually(async () => (await processed()) === 10);

      // The slow one wakes up holding the entry that was claimed and applied, and finishes its batch.
      slow.child.kill('SIGCONT');
      await eventually(async () => ((await t.redis.client.call('CLIENT', 'LIST')) as string).includes('name=ep-process-slow-reader'));
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await processed()).toBe(10);
      expect(await t.redis.client.hget(keys.site('site-0'), 'count')).toBe('4');
    } finally {
      slow.child.kill('SIGKILL');
    }
  });
});
