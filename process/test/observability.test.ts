import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { processApp } from '../../test/support/process-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { ensurePromtool, promtoolCheckMetrics } from '../../test/support/promtool.js';
import { GROUP, STREAM, addReadings, processConfig, reading } from './helpers.js';

let redis: TestRedis;
let app: FastifyInstance;

beforeAll(async () => {
  ensurePromtool();
  redis = await startRedisServer();
  app = processApp(processConfig(redis.url));
  await app.ready();
}, 600_000);
afterAll(async () => {
  await app.close();
  await redis.stop();
});

const scrape = () => app.inject({ method: 'GET', url: '/metrics', headers: { accept: 'text/plain;version=0.0.4' } });
const sample = (text: string, pattern: RegExp) => Number(text.match(pattern)?.[1] ?? Number.NaN);

describe('processor Prometheus metrics', () => {
  it('reports processed totals, then lag and pending read from Redis on scrape, as the JSON does', async () => {
    const progress = /^ep_consumer_last_progress_timestamp_seconds\{consumer="consumer-a",shard="0"\} ([\d.e+]+)$/m;
    const started = sample((await scrape()).body, progress);
    const beforeWork = Date.now() / 1000;
    expect(started).toBeLessThanOrEqual(beforeWork);
    app.worker.start();
    await addReadings(redis.client, Array.from({ length: 5 }, (_, i) => reading(i)));
    await eventually(async () => sample((await scrape()).body, /^ep_group_readings_applied_total\{shard="0"\} (\d+)/m) === 5);
    const processed = (await scrape()).body;
    // Progress is stamped when entries are applied, not when the process started.
    const progressed = sample(processed, progress);
    expect(progressed).toBeGreaterThanOrEqual(beforeWork);
    expect(progressed).toBeLessThanOrEqual(Date.now() / 1000);
    expect(sample(processed, /^ep_consumer_readings_applied_total (\d+)/m)).toBe(5);
    expect(sample(processed, /^ep_consumer_group_lag\{shard="0"\} (\d+)/m)).toBe(0);

    await app.worker.stop();
    await addReadings(redis.client, [reading(10), reading(11), reading(12)]);
    await redis.client.xreadgroup('GROUP', GROUP, 'other', 'COUNT', 1, 'STREAMS', STREAM, '>');
    const text = (await scrape()).body;
    const json = (await app.inject({ method: 'GET', url: '/metrics' })).json();
    expect(sample(text, /^ep_consumer_group_lag\{shard="0"\} (\d+)/m)).toBe(2);
    expect(sample(text, /^ep_consumer_group_pending\{shard="0"\} (\d+)/m)).toBe(1);
    expect(json.group).toMatchObject({ lag: 2, pending: 1 });
    expect(sample(text, /^ep_consumer_pending\{consumer="other",shard="0"\} (\d+)/m)).toBe(1);
    // Stopped, with work waiting: no progress since the last applied batch.
    expect(sample(text, progress)).toBe(progressed);
    expect(sample(text, /^ep_stream_length\{shard="0"\} (\d+)/m)).toBe(8);
    expect(sample(text, /^ep_redis_up (\d+)/m)).toBe(1);
    expect(sample(text, /^redis_command_duration_seconds_count\{connection="worker",command="evalsha",outcome="ok"\} (\d+)/m)).toBeGreaterThan(0);
    expect(sample(text, /^http_request_duration_seconds_count\{method="GET",route="\/metrics",status_code="200"\} (\d+)/m)).toBeGreaterThan(0);
    expect(text).toMatch(/^process_resident_memory_bytes /m);
  });

  it('passes promtool check metrics', async () => {
    const check = promtoolCheckMetrics((await scrape()).body);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
  });

  it('keeps the JSON body for curl, and serves /openapi.json and /docs', async () => {
    const json = await app.inject({ method: 'GET', url: '/metrics' });
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.json().group.name).toBe(GROUP);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/health', '/metrics']));
    expect((await app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
  });

  it('reports Redis down as ep_redis_up 0 and unknown gauges as NaN instead of failing the scrape', async () => {
    await redis.kill();
    try {
      const res = await scrape();
      expect(res.statusCode).toBe(200);
      expect(sample(res.body, /^ep_redis_up (\d+)/m)).toBe(0);
      expect(res.body).toMatch(/^ep_consumer_group_lag\{shard="0"\} nan$/im);
      expect(promtoolCheckMetrics(res.body).code).toBe(0);
    } finally {
      await redis.restart();
    }
  });
});
