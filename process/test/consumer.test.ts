import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Applier } from '../src/worker/applier.js';
import { SiteZones } from '../src/queries/site-zones.js';
import { ensureGroup } from '../src/worker/group.js';
import { eventually } from '../../scripts/lib/redis-server.js';
import {
  GROUP, STREAM, actualDeviceTotals, addReadings, expectedDeviceTotals, keys, processConfig, reading, useWorkers,
} from './helpers.js';

const log = pino({ level: 'silent' });
const t = useWorkers({ appendonly: true });
const { worker, processed } = t;

describe('consumer', () => {
  it('creates the group from the start of the stream, so readings accepted before it existed are processed', async () => {
    const readings = Array.from({ length: 50 }, (_, i) => reading(i));
    await addReadings(t.redis.client, readings);
    worker().start();
    await eventually(async () => (await processed()) === 50);

    const expected = expectedDeviceTotals(readings);
    expect(await actualDeviceTotals(t.redis.client, expected.keys())).toEqual(expected);
    expect(await t.redis.client.xpending(STREAM, GROUP)).toEqual([0, null, null, null]);
    expect(await t.redis.client.zrange(keys.sites, 0, -1, 'WITHSCORES')).toEqual(['site-0', '0', 'site-1', '0', 'site-2', '0']);
  });

  it('keeps the latest reading per device by measurement time, not arrival order', async () => {
    worker().start();
    const newer = reading(0, { timestamp: '2024-01-15T10:00:10Z', power_reading: 10 });
    const older = reading(0, { timestamp: '2024-01-15T10:00:05Z', power_reading: 5 });
    await addReadings(t.redis.client, [newer, older]);
    await eventually(async () => (await processed()) === 2);
    const device = await t.redis.client.hgetall(keys.device(newer.site_id, newer.device_id));
    expect(device).toMatchObject({ latest_timestamp: '2024-01-15T10:00:10Z', latest_power: '10', count: '2' });
  });

  it('moves an invalid entry to the dead letters without stopping the flow', async () => {
    worker().start();
    await t.redis.client.xadd(STREAM, '*', 'site_id', 's', 'power_reading', 'lots');
    await addReadings(t.redis.client, [reading(1)]);
    await eventually(async () => (await processed()) === 1);
    await eventually(async () => (await t.redis.client.hget(keys.stats, 'invalid')) === '1');
    expect((await t.redis.client.xpending(STREAM, GROUP))[0]).toBe(0);
    const dead = (await t.redis.client.xrange(keys.deadLetters, '-', '+'))[0]![1];
    expect(dead[dead.indexOf('reason') + 1]).toBe('validation_failed');
    expect(dead[dead.indexOf('detail') + 1]).toContain('power_reading');
  });

  it('processes its own pending entries first after a crash', async () => {
    const readings = Array.from({ length: 20 }, (_, i) => reading(i));
    await ensureGroup(t.redis.client, STREAM, GROUP);
    await addReadings(t.redis.client, readings);
    // consumer-a receives everything, then "crashes" before acknowledging anything.
    await t.redis.client.xreadgroup('GROUP', GROUP, 'consumer-a', 'COUNT', 100, 'STREAMS', STREAM, '>');
    expect((await t.redis.client.xpending(STREAM, GROUP))[0]).toBe(20);

    worker().start(); // the same consumer name comes back
    await eventually(async () => (await processed()) === 20);
    expect((await t.redis.client.xpending(STREAM, GROUP))[0]).toBe(0);
  });

  it("claims a dead consumer's pending entries", async () => {
    const readings = Array.from({ length: 30 }, (_, i) => reading(i));
    await ensureGroup(t.redis.client, STREAM, GROUP);
    await addReadings(t.redis.client, readings);
    await t.redis.client.xreadgroup('GROUP', GROUP, 'dead-consumer', 'COUNT', 100, 'STREAMS', STREAM, '>');

    worker({ CONSUMER_NAME: 'survivor', CLAIM_MIN_IDLE_MS: '300', CLAIM_INTERVAL_MS: '100' }).start();
    await eventually(async () => (await processed()) === 30);
    const expected = expectedDeviceTotals(readings);
    expect(await actualDeviceTotals(t.redis.client, expected.keys())).toEqual(expected);
    expect((await t.redis.client.xpending(STREAM, GROUP))[0]).toBe(0);
  });

  it('applies an entry once when a slow consumer and its claimer both finish it', async () => {
    await ensureGroup(t.redis.client, STREAM, GROUP);
    const [id] = await addReadings(t.redis.client, [reading(3)]);
    const entries = (await t.redis.client.xreadgroup('GROUP', GROUP, 'slow', 'STREAMS', STREAM, '>')) as [string, [string, string[]][]][];
    const entry = entries[0]![1];
    await new Promise((r) => setTimeout(r, 20));
    await t.redis.client.xautoclaim(STREAM, GROUP, 'fast', 10, '0-0');

    const commands = t.redis.client.duplicate();
    try {
      const applier = new Applier(commands, { ...processConfig(t.redis.url).consumer, zones: new SiteZones(commands, STREAM), log });
      const [first, second] = [await applier.apply(entry), await applier.apply(entry)];
      expect(first).toEqual({ applied: 1, deadLettered: 0, skipped: 0, failed: [] });
      expect(second).toEqual({ applied: 0, deadLettered: 0, skipped: 1, failed: [] });
      expect(await processed()).toBe(1);
      expect(id).toBe(entry[0]![0]);
    } finally {
      commands.disconnect();
    }
  });

  it('survives a Redis restart mid-run and processes everything exactly once', async () => {
    const w = worker();
    w.start();
    const first = Array.from({ length: 100 }, (_, i) => reading(i));
    await addReadings(t.redis.client, first);
    await eventually(async () => (await processed()) === 100);

    await t.redis.kill();
    await new Promise((r) => setTimeout(r, 500)); // the worker sees a dead Redis for a while
    await t.redis.restart();

    const second = Array.from({ length: 100 }, (_, i) => reading(100 + i));
    await eventually(async () => {
      await addReadings(t.redis.client, second);
      return true;
    });
    await eventually(async () => (await processed()) === 200, 20_000, 100);
    const expected = expectedDeviceTotals([...first, ...second]);
    expect(await actualDeviceTotals(t.redis.client, expected.keys())).toEqual(expected);
    expect(w.status().running).toBe(true);
  });

  it('start, stop and close are safe to call twice, and a stop is prompt while a read blocks', async () => {
    const w = worker({ READ_BLOCK_MS: '10000' });
    w.start();
    w.start();
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await Promise.all([w.stop(), w.stop()]);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(w.status().running).toBe(false);
    await w.close();
    await w.close();
    expect(() => w.start()).toThrow(/closed/);
  });
});

