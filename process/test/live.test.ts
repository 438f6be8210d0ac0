/**
 * The live side against real servers: processors listening on free ports over a private
 * redis-server, subscribed to through the SDK (tRPC over SSE), as a client would.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { EnergyPipelineClient, type SiteEvent, type TailEvent } from '@energy-pipeline/client';
import { SiteEventSchema, TailEventSchema } from '@energy-pipeline/contract';
import { hashToken } from '@energy-pipeline/server-kit';
import { processApp } from '../../test/support/process-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { addReadings, keys, processConfig, reading } from './helpers.js';

const READER = 'live-reader-token-5f4e3d2c1b0a9f8e';
const SITE_A_READER = 'live-site-a-token-0a1b2c3d4e5f6a7b';
const WRITER = 'live-writer-token-9e8d7c6b5a4f3e2d';
const API_KEYS = [`${hashToken(READER)}@read`, `${hashToken(SITE_A_READER)}@read:site-a`, hashToken(WRITER)].join('\n');

let redis: TestRedis;
const apps: FastifyInstance[] = [];
const stops: AbortController[] = [];

async function processor(env: Record<string, string> = {}, startWorker = true, logStream?: { write(line: string): void }) {
  const config = processConfig(redis.url, { LIVE_INTERVAL_MS: '200', CONSUMER_NAME: `c-${apps.length}`, ...env });
  const app = processApp(config, logStream ? { logStream } : {});
  apps.push(app);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  if (startWorker) app.worker.start();
  return { app, url };
}

const sdk = (processUrl: string, apiKey?: string) =>
  new EnergyPipelineClient({ ingestUrl: 'http://127.0.0.1:1', processUrl, ...(apiKey ? { apiKey } : {}), retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 100 } });

/** Collects a subscription's events in the background until the test ends (or `stop()`). */
function collect<T>(open: (signal: AbortSignal) => AsyncIterable<T>) {
  const controller = new AbortController();
  stops.push(controller);
  const events: T[] = [];
  const state: { error: unknown } = { error: null };
  const done = (async () => {
    try {
      for await (const e of open(controller.signal)) events.push(e);
    } catch (err) {
      state.error = err;
    }
  })();
  return { events, state, done, stop: () => controller.abort() };
}

const now = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();
const readingsOf = (events: { data: SiteEvent | TailEvent }[]) =>
  events.flatMap((e) => (e.data.type === 'readings' ? e.data.readings : []));

beforeAll(async () => {
  redis = await startRedisServer();
});
afterEach(async () => {
  for (const s of stops.splice(0)) s.abort();
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await redis.client.flushall();
});
afterAll(async () => redis?.stop());

describe('site subscription', () => {
  it('starts with a snapshot from the device hashes, then sends readings and fresh figures as they arrive', async () => {
    const { app, url } = await processor();
    await addReadings(redis.client, [reading(0, { site_id: 'site-a', device_id: 'm1', power_reading: 100, timestamp: now(-2000) })]);
    await eventually(async () => (await redis.client.hget(keys.stats, 'processed')) === '1');

    const sub = collect((signal) => sdk(url).watch.site('site-a', { signal }));
    const first = await eventually(() => sub.events[0]);
    expect(SiteEventSchema.parse(first.data)).toEqual(first.data);
    expect(first.id).toMatch(/^\d+-\d+$/);
    expect(first.data).toMatchObject({ type: 'snapshot', site: { site_id: 'site-a', power_w: 100, devices: [{ device_id: 'm1', power_w: 100 }] } });

    await addReadings(redis.client, [reading(1, { site_id: 'site-a', device_id: 'm2', power_reading: 250.5, timestamp: now() })]);
    await addReadings(redis.client, [reading(2, { site_id: 'site-b', device_id: 'x', power_reading: 9, timestamp: now() })]);
    const live = await eventually(() => readingsOf(sub.events).find((r) => r.device_id === 'm2'));
    expect(live).toMatchObject({ site_id: 'site-a', power_w: 250.5, shard: 0, index: 0 });
    expect(readingsOf(sub.events).every((r) => r.site_id === 'site-a')).toBe(true);
    const snapshot = await eventually(() =>
      sub.events.find((e) => e.data.type === 'snapshot' && e.data.site.power_w === 350.5 && e.data.site.energy.minute.count >= 1),
    );
    const site = (snapshot.data as Extract<SiteEvent, { type: 'snapshot' }>).site;
    expect(site.devices.map((d) => d.device_id)).toEqual(['m1', 'm2']);
    expect(site.energy.day).toMatchObject({ span_s: 86_400, period: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    // One feed for the site, whatever the number of subscribers.
    expect(app.live.counts).toMatchObject({ sites: 1, feeds: 1 });
    // Ids only go forward.
    const ids = sub.events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => (BigInt(a.split(/[-.,]/)[0]!) < BigInt(b.split(/[-.,]/)[0]!) ? -1 : 0)));
  });

  it('marks a device quiet after LIVE_QUIET_FACTOR of its usual interval without a reading', async () => {
    const { url } = await processor({ LIVE_QUIET_FACTOR: '1' });
    const sub = collect((signal) => sdk(url).watch.site('site-q', { signal }));
    await eventually(() => sub.events[0]);
    // Every 3 s by their timestamps: its usual interval is learned from the gaps.
    const base = Date.now() - 12_000;
    for (let i = 0; i < 5; i++) {
      await addReadings(redis.client, [reading(i, { site_id: 'site-q', device_id: 'slow', power_reading: 10, timestamp: new Date(base + i * 3000).toISOString() })]);
    }
    const learned = await eventually(() =>
      sub.events.findLast((e) => e.data.type === 'snapshot' && e.data.site.devices[0]?.interval_s === 3),
    );
    expect((learned.data as Extract<SiteEvent, { type: 'snapshot' }>).site.quiet).toEqual([]);
    // 10 s is the floor (network jitter); past it and past 1 × 3 s, it is quiet and leaves power now.
    const quiet = await eventually(() => sub.events.find((e) => e.data.type === 'snapshot' && e.data.site.quiet.includes('slow')), 15_000);
    expect((quiet.data as Extract<SiteEvent, { type: 'snapshot' }>).site).toMatchObject({ power_w: 0, devices: [{ quiet: true }] });
  }, 30_000);
});

describe('tail subscription', () => {
  it('filters by site and device, and resumes after a dropped connection with nothing missed', async () => {
    const { url } = await processor();
    const client = sdk(url);
    const first = collect((signal) => client.watch.tail({ site_id: 'site-a', device_id: 'm1' }, { signal }));
    await eventually(() => first.events.length === 0 && url);
    await new Promise((r) => setTimeout(r, 300));
    const batch = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => reading(from + i, { site_id: 'site-a', device_id: i % 2 ? 'm2' : 'm1', power_reading: from + i, timestamp: now(i) }));
    await addReadings(redis.client, batch(0, 10));
    await eventually(() => readingsOf(first.events).length === 5);
    for (const e of first.events) expect(TailEventSchema.parse(e.data)).toEqual(e.data);
    const lastId = first.events.at(-1)!.id;
    first.stop();
    await first.done;

    // Missed while disconnected, in single entries and in a batch entry (one entry, many readings).
    await addReadings(redis.client, batch(10, 6));
    await redis.client.xadd('test_readings', '*', 'readings', JSON.stringify(batch(16, 4)), 'count', '4', 'received_at', String(Date.now()));
    const resumed = collect((signal) => client.watch.tail({ site_id: 'site-a', device_id: 'm1' }, { signal, lastEventId: lastId }));
    await addReadings(redis.client, batch(20, 2));
    await eventually(() => readingsOf(resumed.events).length === 6);
    await new Promise((r) => setTimeout(r, 300));
    expect(readingsOf(resumed.events).map((r) => r.power_w)).toEqual([10, 12, 14, 16, 18, 20]);
    expect(resumed.events.some((e) => e.data.type === 'notice')).toBe(false);
  });

  it('tells a client that comes back after the stream was trimmed past its last event', async () => {
    const { url } = await processor();
    const [oldId] = await addReadings(redis.client, [reading(0, { site_id: 'site-a', timestamp: now() })]);
    await addReadings(redis.client, [reading(1, { site_id: 'site-a', timestamp: now() })]);
    await redis.client.xtrim('test_readings', 'MAXLEN', 0);
    await addReadings(redis.client, [reading(2, { site_id: 'site-a', timestamp: now() })]);
    const sub = collect((signal) => sdk(url).watch.tail({}, { signal, lastEventId: oldId }));
    const notice = await eventually(() => sub.events.find((e) => e.data.type === 'notice'));
    expect(notice.data).toMatchObject({ type: 'notice', notice: { code: 'resume_gap', message: expect.stringContaining('LIVE_RETENTION_S') } });
  });

  it('drops a subscriber that does not keep up once LIVE_QUEUE_MAX readings wait, and keeps nothing more for it', async () => {
    const { app } = await processor({ LIVE_QUEUE_MAX: '50' });
    const controller = new AbortController();
    stops.push(controller);
    // A reader that takes the first event, then stops reading, as a stalled connection does.
    const events = app.live.tailReadings({ sites: null }, null, controller.signal);
    const firstRead = events.next();
    await eventually(() => app.live.counts.tail === 1);
    for (let i = 0; i < 10; i++) await addReadings(redis.client, Array.from({ length: 20 }, (_, j) => reading(i * 20 + j, { timestamp: now(j) })));
    await firstRead;
    await new Promise((r) => setTimeout(r, 500));
    await expect(async () => {
      for (;;) await events.next();
    }).rejects.toMatchObject({ reason: 'slow_consumer' });
    expect(app.live.counts.tail).toBe(0);
  });
});

describe('several replicas and many subscribers', () => {
  it('shows on replica A what replica B applied, through the SDK', async () => {
    const a = await processor({}, false);
    const b = await processor();
    const sub = collect((signal) => sdk(a.url).watch.site('site-r', { signal }));
    await eventually(() => sub.events[0]);
    await addReadings(redis.client, [reading(0, { site_id: 'site-r', device_id: 'm', power_reading: 777, timestamp: now() })]);
    await eventually(() => sub.events.find((e) => e.data.type === 'snapshot' && e.data.site.power_w === 777 && e.data.site.energy.minute.count === 1));
    expect(a.app.worker.status().applied).toBe(0);
    expect(b.app.worker.status().applied).toBe(1);
  });

  it('costs one XREAD loop and one aggregate read per interval for fifty subscribers of a site, as for one', async () => {
    const { app, url } = await processor({ LIVE_INTERVAL_MS: '250' });
    const calls = async () => {
      const info = await redis.client.info('commandstats');
      const count = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
      return { xread: count('xread'), hgetall: count('hgetall') };
    };
    const measure = async (subscribers: number) => {
      const subs = Array.from({ length: subscribers }, () => collect((signal) => sdk(url).watch.site('site-f', { signal })));
      await eventually(() => subs.every((s) => s.events.length > 0), 20_000);
      const before = await calls();
      await new Promise((r) => setTimeout(r, 2_000));
      const after = await calls();
      for (const s of subs) s.stop();
      await eventually(() => app.live.counts.sites === 0);
      return { xread: after.xread - before.xread, hgetall: after.hgetall - before.hgetall };
    };
    const one = await measure(1);
    const fifty = await measure(50);
    // Per interval: 3 HGETALLs (minute, hour, day) and at most one XREAD per 2 s BLOCK, subscribers or not.
    expect(one.hgetall).toBeGreaterThan(0);
    expect(fifty.hgetall).toBeLessThanOrEqual(one.hgetall + 6);
    expect(fifty.xread).toBeLessThanOrEqual(one.xread + 2);
  }, 60_000);
});

describe('pipeline subscription', () => {
  it('reports lag, pending, rates and dead letters per shard', async () => {
    const { url } = await processor();
    const sub = collect((signal) => sdk(url).watch.pipeline({ signal }));
    await eventually(() => sub.events[0]);
    await addReadings(redis.client, Array.from({ length: 30 }, (_, i) => reading(i, { timestamp: now(i) })));
    await redis.client.xadd('test_readings', '*', 'site_id', 's', 'device_id', 'd', 'power_reading', 'lots');
    const seen = await eventually(() =>
      sub.events.find((p) => p.shards[0]!.dead_letters === 1 && (p.shards[0]!.applied_readings_per_s ?? 0) > 0 && p.totals.lag === 0),
    );
    expect(seen.shards[0]).toMatchObject({ shard: 0, stream: 'test_readings', pending: 0, applied: 30, consumers: [{ name: 'c-0' }] });
    expect(seen.shards[0]!.ingest_entries_per_s).toBeGreaterThan(0);
    expect(seen.redis).toBe('up');
  });
});

describe('auth', () => {
  it('needs a key with the read scope, and keeps a site-limited key to its sites', async () => {
    const { url } = await processor({ API_KEYS });
    const error = async (open: (signal: AbortSignal) => AsyncIterable<unknown>) => {
      const sub = collect(open);
      await sub.done;
      return sub.state.error as { kind: string; status: number; message: string };
    };
    expect(await error((signal) => sdk(url).watch.pipeline({ signal }))).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect(await error((signal) => sdk(url, 'wrong').watch.pipeline({ signal }))).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect(await error((signal) => sdk(url, WRITER).watch.site('site-a', { signal }))).toMatchObject({ kind: 'forbidden', status: 403 });
    expect(await error((signal) => sdk(url, SITE_A_READER).watch.site('site-b', { signal }))).toMatchObject({
      kind: 'forbidden',
      status: 403,
      message: expect.stringContaining("may not read site 'site-b'"),
    });

    // The site-limited key sees its own site, and a tail of only its sites.
    const own = collect((signal) => sdk(url, SITE_A_READER).watch.site('site-a', { signal }));
    const tail = collect((signal) => sdk(url, SITE_A_READER).watch.tail({}, { signal }));
    const all = collect((signal) => sdk(url, READER).watch.tail({}, { signal }));
    await eventually(() => own.events[0]);
    await new Promise((r) => setTimeout(r, 500));
    await addReadings(redis.client, [reading(0, { site_id: 'site-b', timestamp: now() }), reading(1, { site_id: 'site-a', timestamp: now() })]);
    await eventually(() => readingsOf(all.events).length === 2);
    await eventually(() => readingsOf(tail.events).length === 1);
    expect(readingsOf(tail.events)[0]!.site_id).toBe('site-a');
  });

  it('keeps the key out of URLs and logs: the SDK sends it as a header, which the log redacts', async () => {
    const lines: string[] = [];
    const { url } = await processor({ API_KEYS, LOG_LEVEL: 'info' }, true, { write: (line) => lines.push(line) });
    const sub = collect((signal) => sdk(url, READER).watch.site('site-a', { signal }));
    await eventually(() => sub.events[0]);
    const requests = lines.map((l) => JSON.parse(l) as { req?: { url: string; headers?: Record<string, string> } }).filter((l) => l.req?.url.startsWith('/trpc/'));
    expect(requests.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(READER);
    expect(lines.join('\n')).not.toContain(hashToken(READER));
  });
});
