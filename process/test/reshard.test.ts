import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { layoutKey, shardStreams } from '@energy-pipeline/server-kit';
import { ingestConfig } from '../../test/support/ingest-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { processApp } from '../../test/support/process-app.js';
import { ReshardError, reshard, siteOfKey } from '../src/reshard/reshard.js';
import { processConfig } from './helpers.js';

const STREAM = 'reshard_readings';
const env = (shards: number) => ({ REDIS_STREAM: STREAM, STREAM_SHARDS: String(shards), AUTH_DISABLED: 'true', BACKLOG_CHECK_INTERVAL_MS: '200' });
let redis: TestRedis;
const apps: FastifyInstance[] = [];
const start = async (app: FastifyInstance) => {
  apps.push(app);
  await app.ready();
  return app;
};
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await redis?.stop();
});

const sites = Array.from({ length: 20 }, (_, i) => `site-${i}`);
const T0 = Date.now() - 600_000;
/** Two readings per site: one numbered, one identified by its timestamp. */
const round = (n: number) =>
  sites.flatMap((site_id, s) => [
    { site_id, device_id: 'meter', power_reading: 10 * (s + 1), timestamp: new Date(T0 + n * 1000).toISOString(), seq: n },
    { site_id, device_id: 'plain', power_reading: 5, timestamp: new Date(T0 + n * 1000).toISOString() },
  ]);
const post = (app: FastifyInstance, readings: object[]) => app.inject({ method: 'POST', url: '/readings/batch', payload: { readings } });
const count = async (app: FastifyInstance, site: string) => (await app.inject({ url: `/sites/${site}` })).json().count;

describe('changing the number of shards', () => {
  it('moves every site to its new shard: nothing lost, a resend still recognised, the zone kept', async () => {
    const ingest1 = await start(buildIngestApp(ingestConfig(redis.url, env(1))));
    const proc1 = await start(processApp(processConfig(redis.url, { ...env(1), CONSUMER_NAME: 'p1' })));
    proc1.worker.start();
    const first = [...round(1), ...round(2)];
    expect((await post(ingest1, first)).json().accepted).toBe(first.length);
    await proc1.inject({ method: 'PUT', url: '/sites/site-3', payload: { time_zone: 'Europe/Paris' } });
    await eventually(async () => (await proc1.inject({ url: '/metrics' })).json().applied.total === first.length);

    // Not drained (the processor stopped with readings waiting): refused, and writes resume.
    await proc1.worker.stop();
    await post(ingest1, round(3));
    const log: string[] = [];
    await expect(reshard(redis.client, { stream: STREAM, from: 1, to: 3, log: (l) => log.push(l), settleMs: 500 })).rejects.toBeInstanceOf(ReshardError);
    expect(log).toContain('writes resumed: nothing was moved');
    expect(await redis.client.hget(layoutKey(STREAM), 'shards')).toBe('1');
    proc1.worker.start();
    await eventually(async () => (await proc1.inject({ url: '/metrics' })).json().applied.total === first.length + sites.length * 2);
    await proc1.worker.stop();

    // Drained: the move, while the old ingest is still up and must refuse writes meanwhile.
    const moving = reshard(redis.client, { stream: STREAM, from: 1, to: 3, log: () => {}, settleMs: 1_000 });
    await eventually(async () => (await redis.client.hget(layoutKey(STREAM), 'resharding')) === '1:3', 2_000, 10);
    await new Promise((r) => setTimeout(r, 500)); // two of ingest's layout reads
    expect((await post(ingest1, round(4))).statusCode).toBe(503);
    const report = await moving;
    expect(report.keysMoved).toBeGreaterThan(100);
    expect(await redis.client.hget(layoutKey(STREAM), 'shards')).toBe('3');
    expect(await redis.client.exists(STREAM)).toBe(0);
    const stillOld = await post(ingest1, round(4));
    expect(stillOld.statusCode).toBe(503);
    expect(stillOld.json().message).toContain('shard layout');

    // The new layout: every earlier reading is a repeat, new ones count once.
    const ingest3 = await start(buildIngestApp(ingestConfig(redis.url, env(3))));
    const proc3 = await start(processApp(processConfig(redis.url, { ...env(3), CONSUMER_NAME: 'p3' })));
    proc3.worker.start();
    const resent = (await post(ingest3, [...round(1), ...round(2), ...round(3)])).json();
    expect(resent.results.every((r: { duplicate: boolean }) => r.duplicate)).toBe(true);
    expect((await post(ingest3, round(5))).json().accepted).toBe(sites.length * 2);
    await eventually(async () => {
      for (const site of sites) if ((await count(proc3, site)) !== 8) return false;
      return true;
    });
    expect((await proc3.inject({ url: '/sites/site-3' })).json().time_zone).toBe('Europe/Paris');
    const meter = (await proc3.inject({ url: '/sites/site-7/devices/meter' })).json();
    expect(meter).toMatchObject({ count: 4, mean_w: 80 });
    const names = shardStreams(STREAM, 3);
    expect((await proc3.inject({ url: '/metrics' })).json().shards.map((s: { stream: { name: string } }) => s.stream.name)).toEqual(names);
  });

  it("reads a key's site whatever its kind, colons in ids included", () => {
    expect(siteOfKey('site:a:b')).toBe('a:b');
    expect(siteOfKey('site-devices:s1')).toBe('s1');
    expect(siteOfKey('device:s:1/d:2')).toBe('s:1');
    expect(siteOfKey('device-minute:s:1/d:2:1700000000')).toBe('s:1');
    expect(siteOfKey('site-day:s:1:2026-03-29')).toBe('s:1');
    expect(siteOfKey('stats')).toBeNull();
  });
});
