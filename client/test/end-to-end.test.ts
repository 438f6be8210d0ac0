import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { buildProcessApp } from '@energy-pipeline/process';
import { createIngestClient, createProcessClient } from '../src/index.js';
import { ingestConfig } from '../../ingest/test/helpers.js';
import { processConfig } from '../../process/test/helpers.js';
import { eventually, startRedisServer, type TestRedis } from '../../test/support/redis-server.js';

let redis: TestRedis;
let ingest: FastifyInstance;
let processor: FastifyInstance;
let ingestUrl: string;
let processUrl: string;

beforeAll(async () => {
  redis = await startRedisServer();
  ingest = buildIngestApp(ingestConfig(redis.url));
  processor = buildProcessApp(processConfig(redis.url));
  ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });
  processUrl = await processor.listen({ host: '127.0.0.1', port: 0 });
  processor.worker.start();
});
afterAll(async () => {
  await Promise.all([ingest.close(), processor.close()]);
  await redis.stop();
});

describe('SDK against both running servers', () => {
  it("carries the seed's curl reading through the stream into the processor's metrics", async () => {
    // The plain curl user: snake_case JSON over HTTP, no SDK.
    const res = await fetch(`${ingestUrl}/readings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ site_id: 'site-001', device_id: 'device-001', power_reading: 1500.5, timestamp: new Date().toISOString() }),
    });
    expect(res.status).toBe(202);
    const { stream_id } = (await res.json()) as { stream_id: string };

    const client = createProcessClient(processUrl);
    const metrics = await eventually(async () => {
      const r = await client.metrics();
      return r.status === 200 && r.body.processed.total >= 1 ? r.body : null;
    });
    expect(metrics.group.last_delivered_id).toBe(stream_id);
    expect(metrics.stream.length).toBe(1);
  });

  it('sends a reading with the SDK and gets the typed 202 body', async () => {
    const client = createIngestClient(ingestUrl);
    const r = await client.postReading({
      body: { site_id: 'site-002', device_id: 'inv-7', power_reading: -820, timestamp: new Date().toISOString() },
    });
    expect(r.status).toBe(202);
    if (r.status === 202) expect(r.body.stream_id).toMatch(/^\d+-\d+$/);
  });

  it('gets a typed 400 naming the field for a bad reading', async () => {
    const client = createIngestClient(ingestUrl);
    const r = await client.postReading({
      body: { site_id: 'site-002', device_id: 'inv-7', power_reading: Number.NaN, timestamp: new Date().toISOString() },
    });
    expect(r.status).toBe(400);
    if (r.status === 400) expect(r.body.issues?.map((i) => i.path)).toEqual(['power_reading']);
  });

  it('reads health from both services', async () => {
    const [i, p] = await Promise.all([createIngestClient(ingestUrl).health(), createProcessClient(processUrl).health()]);
    expect(i.status).toBe(200);
    expect(p.status).toBe(200);
    if (p.status === 200) expect(p.body.running).toBe(true);
  });
});
