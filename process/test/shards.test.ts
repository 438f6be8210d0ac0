import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { ShardLayoutError, layoutKey, redisKeys, shardOf, shardStreams } from '@energy-pipeline/server-kit';
import { ingestConfig } from '../../test/support/ingest-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { storedReadings } from '../../test/support/stream.js';
import { processApp } from '../../test/support/process-app.js';
import { processConfig } from './helpers.js';

const STREAM = 'sharded_readings';
const SHARDS = 3;
const env = { REDIS_STREAM: STREAM, STREAM_SHARDS: String(SHARDS), AUTH_DISABLED: 'true' };
const streams = shardStreams(STREAM, SHARDS);
let redis: TestRedis;
let ingest: FastifyInstance;
let processors: FastifyInstance[];

beforeAll(async () => {
  redis = await startRedisServer();
  ingest = buildIngestApp(ingestConfig(redis.url, env));
  // Two replicas: one reads shards 0 and 2, the other shard 1 (PROCESS_SHARDS).
  processors = [
    processApp(processConfig(redis.url, { ...env, CONSUMER_NAME: 'a', PROCESS_SHARDS: '0,2' })),
    processApp(processConfig(redis.url, { ...env, CONSUMER_NAME: 'b', PROCESS_SHARDS: '1' })),
  ];
  await Promise.all([ingest.ready(), ...processors.map((p) => p.ready())]);
  for (const p of processors) p.worker.start();
});
afterAll(async () => {
  await Promise.all([ingest?.close(), ...(processors ?? []).map((p) => p.close())]);
  await redis?.stop();
});

const sites = Array.from({ length: 12 }, (_, i) => `site-${i}`);
const readings = sites.flatMap((site_id, s) =>
  Array.from({ length: 5 }, (_, i) => ({
    site_id,
    device_id: `meter-${i % 2}`,
    power_reading: 100 * (s + 1),
    timestamp: new Date(Date.now() - 60_000 + i * 1000).toISOString(),
    seq: i + 1,
  })),
);

describe('a sharded stream', () => {
  it("puts each site's readings, dedupe state and aggregates in its own shard", async () => {
    const res = await ingest.inject({ method: 'POST', url: '/readings/batch', payload: { readings } });
    expect(res.json().accepted).toBe(readings.length);
    // One entry per shard the batch touched, each holding only that shard's sites.
    for (const [shard, stream] of streams.entries()) {
      const stored = await storedReadings(redis.client, stream);
      expect(stored.every((r) => shardOf(String(r.fields.site_id), SHARDS) === shard)).toBe(true);
      expect(new Set(stored.map((r) => r.entryId)).size).toBeLessThanOrEqual(1);
    }
    const total = async () => {
      let n = 0;
      for (const stream of streams) n += Number((await redis.client.hget(redisKeys({ stream, group: 'test_group' }).stats, 'processed')) ?? 0);
      return n;
    };
    await eventually(async () => (await total()) === readings.length);
    for (const site of sites) {
      const keys = redisKeys({ stream: streams[shardOf(site, SHARDS)]!, group: 'test_group' });
      expect(await redis.client.hget(keys.site(site), 'count')).toBe('5');
    }
    // A resend is a repeat on whichever shard it lands: the same one.
    expect((await ingest.inject({ method: 'POST', url: '/readings/batch', payload: { readings } })).json().results.every((r: { duplicate: boolean }) => r.duplicate)).toBe(true);
  });

  it('answers queries from each site\'s shard, and lists every shard\'s sites in order, a page at a time', async () => {
    const p = processors[0]!;
    const device = (await p.inject({ url: '/sites/site-7/devices/meter-0' })).json();
    expect(device).toMatchObject({ site_id: 'site-7', count: 3, mean_w: 800 });
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: { sites: { site_id: string }[]; next: string | null } = (await p.inject({ url: `/sites?limit=5${after ? `&after=${after}` : ''}` })).json();
      seen.push(...page.sites.map((s: { site_id: string }) => s.site_id));
      after = page.next;
    } while (after);
    expect(seen).toEqual([...sites].sort());
  });

  it('reports the backlog and the consumer group per shard', async () => {
    const metrics = (await ingest.inject({ url: '/metrics' })).json();
    await eventually(async () => (await ingest.inject({ url: '/metrics' })).json().backlog.shards.length === SHARDS);
    expect(metrics.stream.name).toBe(STREAM);
    const m = (await processors[1]!.inject({ url: '/metrics' })).json();
    expect(m.shards.map((s: { stream: { name: string } }) => s.stream.name)).toEqual(streams);
    expect(m.applied.total).toBe(readings.length);
    const text = (await processors[1]!.inject({ url: '/metrics', headers: { accept: 'text/plain' } })).body;
    for (let i = 0; i < SHARDS; i++) expect(text).toMatch(new RegExp(`^ep_consumer_group_lag\\{shard="${i}"\\} 0$`, 'm'));
    // Each replica stamps its consumer's progress on the shards it reads, labelled like ep_consumer_pending.
    const stamped = (body: string) =>
      [...body.matchAll(/^ep_consumer_last_progress_timestamp_seconds\{consumer="(\w+)",shard="(\d+)"\} \S+$/gm)].map(([, c, sh]) => `${c}/${sh}`);
    expect(stamped(text)).toEqual(['b/1']);
    expect(stamped((await processors[0]!.inject({ url: '/metrics', headers: { accept: 'text/plain' } })).body)).toEqual(['a/0', 'a/2']);
    // Each replica holds what it reads: health counts its own shards.
    expect((await processors[1]!.inject({ url: '/health' })).json()).toMatchObject({ status: 'ok', pending: 0 });
  });

  it('refuses a service whose STREAM_SHARDS differs from the layout in Redis', async () => {
    expect(await redis.client.hget(layoutKey(STREAM), 'shards')).toBe(String(SHARDS));
    const wrong = buildIngestApp(ingestConfig(redis.url, { ...env, STREAM_SHARDS: '4' }));
    await expect(wrong.ready()).rejects.toBeInstanceOf(ShardLayoutError);
    await wrong.close();
  });
});
