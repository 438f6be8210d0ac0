import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { processApp } from '../../test/support/process-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { GROUP, STREAM, addReadings, processConfig, reading } from './helpers.js';

let redis: TestRedis;
let app: FastifyInstance;

beforeAll(async () => {
  redis = await startRedisServer();
  app = processApp(processConfig(redis.url));
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await redis.stop();
});

const get = async (url: string) => app.inject({ method: 'GET', url });

describe('processor HTTP API', () => {
  it('reports unavailable until the worker runs, then ok with its consumer and group', async () => {
    const before = await get('/health');
    expect(before.statusCode).toBe(503);
    expect(before.json()).toMatchObject({ running: false, redis: 'up' });

    app.worker.start();
    const after = await get('/health');
    expect(after.statusCode).toBe(200);
    expect(after.json()).toMatchObject({ status: 'ok', consumer: 'consumer-a', group: GROUP, running: true, pending: 0 });
  });

  it('reports stream, group and processed counts from XINFO and XPENDING', async () => {
    app.worker.start();
    await addReadings(redis.client, Array.from({ length: 12 }, (_, i) => reading(i)));
    await eventually(async () => (await get('/metrics')).json().applied.total === 12);
    const m = (await get('/metrics')).json();
    expect(m.stream).toMatchObject({ name: STREAM, length: 12, groups: 1 });
    expect(m.group).toMatchObject({ name: GROUP, exists: true, pending: 0, lag: 0, oldest_pending_id: null });
    expect(m.group.last_delivered_id).toBe(m.stream.last_id);
    expect(m.group.consumers.map((c: { name: string }) => c.name)).toContain('consumer-a');
    expect(m.applied).toEqual({ total: 12, by_this_consumer: 12, validation_failed: 0, dead_lettered: 0 });
    expect(m.dead_letters.length).toBe(0);

    const health = (await get('/health')).json();
    expect(Date.parse(health.last_activity)).toBeGreaterThan(Date.now() - 10_000);
  });

  it('shows lag and pending for entries not yet processed', async () => {
    await app.worker.stop();
    await addReadings(redis.client, [reading(100), reading(101), reading(102)]);
    await redis.client.xreadgroup('GROUP', GROUP, 'other', 'COUNT', 1, 'STREAMS', STREAM, '>');
    const m = (await get('/metrics')).json();
    expect(m.group.pending).toBe(1);
    expect(m.group.lag).toBe(2);
    expect(m.group.oldest_pending_id).not.toBeNull();
  });
});
