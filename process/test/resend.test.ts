import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { ingestConfig } from '../../test/support/ingest-app.js';
import { eventually } from '../../scripts/lib/redis-server.js';
import { GROUP, STREAM, keys, useWorkers } from './helpers.js';

const t = useWorkers();
let ingest: FastifyInstance;
beforeAll(async () => {
  ingest = buildIngestApp(ingestConfig(t.redis.url, { REDIS_STREAM: STREAM }));
  await ingest.ready();
});
afterAll(async () => ingest?.close());

const week = 7 * 24 * 3600_000;
const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
const post = (readings: object[]) => ingest.inject({ method: 'POST', url: '/readings/batch', payload: { readings } });

describe('a resend, a week later', () => {
  it('is not counted again, with a seq or without one', async () => {
    t.worker({ CONSUMER_GROUP: GROUP }).start();
    // A meter that was offline: a week-old reading with a seq, and one without.
    const numbered = { site_id: 'site-r', device_id: 'meter', power_reading: 1000, timestamp: at(week + 60_000), seq: 1 };
    const plain = { site_id: 'site-r', device_id: 'inverter', power_reading: -250, timestamp: at(week + 60_000) };
    expect((await post([numbered, plain])).json().accepted).toBe(2);
    // The device lost the answer, kept sending new readings for a week...
    const later = Array.from({ length: 300 }, (_, i) => ({ ...numbered, seq: i + 2, timestamp: at(week - i * 60_000) }));
    for (let i = 0; i < later.length; i += 100) await post(later.slice(i, i + 100));
    await eventually(async () => (await t.processed()) === 302);
    // ...and now replays its spool from the start.
    const replay = (await post([numbered, plain, ...later.slice(0, 10)])).json();
    expect(replay.results.every((r: { duplicate: boolean }) => r.duplicate)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(await t.processed()).toBe(302);
    expect(await t.redis.client.hget(keys.device('site-r', 'meter'), 'count')).toBe('301');
    expect(await t.redis.client.hget(keys.device('site-r', 'inverter'), 'count')).toBe('1');
  });
});
