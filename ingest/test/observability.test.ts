import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '../src/app.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { ensurePromtool, promtoolCheckMetrics } from '../../test/support/promtool.js';
import { ingestConfig, seedReading } from './helpers.js';

let redis: TestRedis;
let app: FastifyInstance;
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

beforeAll(async () => {
  ensurePromtool();
  redis = await startRedisServer();
  app = buildIngestApp(ingestConfig(redis.url));
  await app.ready();
  // Some traffic of every kind, so that every metric has samples.
  await app.inject({ method: 'POST', url: '/readings', payload: seedReading() });
  await app.inject({ method: 'POST', url: '/readings', payload: seedReading({ power_reading: 'x' }) });
  await app.inject({ method: 'POST', url: '/readings/batch', payload: { readings: [seedReading(), { nope: 1 }] } });
  await app.inject({ method: 'GET', url: '/no/such/route' });
}, 600_000);
afterAll(async () => {
  await app.close();
  await redis.stop();
});

const scrape = (accept = PROMETHEUS_ACCEPT) => app.inject({ method: 'GET', url: '/metrics', headers: { accept } });
const sample = (text: string, pattern: RegExp) => Number(text.match(pattern)?.[1] ?? Number.NaN);

describe('ingest Prometheus metrics', () => {
  it('gives a Prometheus scrape the text format, which passes promtool check metrics', async () => {
    const res = await scrape();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const check = promtoolCheckMetrics(res.body);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
  });

  it('has latency by route and status, readings by outcome and reason, Redis latency and process metrics', async () => {
    const text = (await scrape('text/plain;version=0.0.4')).body;
    expect(sample(text, /^http_request_duration_seconds_count\{method="POST",route="\/readings",status_code="202"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(sample(text, /^http_request_duration_seconds_count\{method="POST",route="\/readings",status_code="400"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(sample(text, /^http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(sample(text, /^ep_ingest_readings_accepted_total\{route="\/readings\/batch",duplicate="false"\} (\d+)/m)).toBe(1);
    expect(sample(text, /^ep_ingest_readings_rejected_total\{route="\/readings",reason="validation_failed"\} (\d+)/m)).toBe(1);
    expect(sample(text, /^ep_ingest_readings_rejected_total\{route="\/readings\/batch",reason="validation_failed"\} (\d+)/m)).toBe(1);
    expect(sample(text, /^redis_command_duration_seconds_count\{connection="commands",command="evalsha",outcome="ok"\} (\d+)/m)).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(text).toMatch(/^ep_ingest_backlog_limit 100000$/m);
    expect(text).toMatch(/^ep_redis_up 1$/m);
  });

  it("keeps JSON for the seed's curl, browsers and JSON clients", async () => {
    for (const accept of [undefined, '*/*', 'application/json', 'text/html,*/*;q=0.8']) {
      const res = await app.inject({ method: 'GET', url: '/metrics', headers: accept ? { accept } : {} });
      expect(res.headers['content-type'], String(accept)).toMatch(/^application\/json/);
      expect(res.json()).toMatchObject({ stream: { name: 'test_readings' }, readings: { accepted: 2, rejected: 2 } });
    }
  });
});

describe('ingest OpenAPI', () => {
  it('serves the contract document at /openapi.json and Swagger UI at /docs', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths).sort()).toEqual(['/health', '/metrics', '/readings', '/readings/batch']);
    expect(doc.info.title).toBe('energy-pipeline ingest');
    const ui = await app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).json().paths).toEqual(doc.paths);
  });

  it('stores what "Try it out" sends: the example reading, timestamped now, and says auth is off', async () => {
    // The examples are timestamped to the second; the seeded readings of the same device must be
    // in an earlier second, or this one would be out of order (409), as it would be for a device.
    await new Promise((r) => setTimeout(r, 1010 - (Date.now() % 1000)));
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.info.description).toContain('Auth is OFF');
    const example = doc.paths['/readings'].post.requestBody.content['application/json'].schema.example;
    expect(example).toMatchObject({ site_id: 'site-001', device_id: 'device-001', power_reading: 1500.5 });
    expect(Math.abs(Date.parse(example.timestamp) - Date.now())).toBeLessThan(5_000);
    const res = await app.inject({ method: 'POST', url: '/readings', payload: example });
    expect(res.json()).toMatchObject({ status: 'success', duplicate: false });
    expect(res.statusCode).toBe(202);
  });
});
