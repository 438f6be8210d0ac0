import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { processApp } from '../../test/support/process-app.js';
import { localPeriods } from '../src/queries/local-time.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { addReadings, keys, processConfig } from './helpers.js';

let redis: TestRedis;
let app: FastifyInstance;
beforeAll(async () => {
  redis = await startRedisServer();
  app = processApp(processConfig(redis.url, { AUTH_DISABLED: 'true' }));
  await app.ready();
  app.worker.start();
});
afterAll(async () => {
  await app.close();
  await redis.stop();
});

const put = (site: string, payload: object) => app.inject({ method: 'PUT', url: `/sites/${site}`, payload });
const get = (url: string) => app.inject({ method: 'GET', url });
/** A constant 1 kW every 10 minutes over [from, to): energy is 1 kWh per hour the day really has. */
function steady(site: string, from: string, to: string) {
  const out = [];
  for (let at = Date.parse(from); at < Date.parse(to); at += 600_000) {
    out.push({ site_id: site, device_id: 'meter', power_reading: 1000, timestamp: new Date(at).toISOString() });
  }
  return out;
}
const processed = async () => Number((await redis.client.hget(keys.stats, 'processed')) ?? 0);

describe("a site's days and months, in its time zone", () => {
  it('take a time zone, validated and in canonical spelling', async () => {
    expect((await get('/sites/berlin')).statusCode).toBe(404);
    const res = await put('berlin', { time_zone: 'Europe/Berlin' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ site_id: 'berlin', time_zone: 'Europe/Berlin', devices: 0, count: 0 });
    const bad = await put('berlin', { time_zone: 'Mars/Olympus' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues[0]).toMatchObject({ path: 'time_zone' });
    expect((await put('pacific', { time_zone: 'US/Pacific' })).json().time_zone).toBe('America/Los_Angeles');
    expect((await get('/sites/pacific')).json().time_zone).toBe('America/Los_Angeles');
  });

  it('last 23 and 25 hours on the days clocks change, and the energy follows', async () => {
    await put('berlin', { time_zone: 'Europe/Berlin' });
    const before = await processed();
    const readings = [
      // Spring forward: 2026-03-29 has no 02:00-03:00 in Berlin.
      ...steady('berlin', '2026-03-28T00:00:00+01:00', '2026-03-31T00:00:00+02:00'),
      // Fall back: 2026-10-25 has 02:00-03:00 twice.
      ...steady('berlin', '2026-10-25T00:00:00+02:00', '2026-10-26T00:00:00+01:00'),
    ];
    await addReadings(redis.client, readings);
    await eventually(async () => (await processed()) === before + readings.length);

    const days = (await get('/sites/berlin/series?bucket=day&from=2026-03-28T00:00:00%2B01:00&to=2026-03-31T00:00:00%2B02:00')).json();
    expect(days.points.map((p: { period: string; span_s: number; energy_wh: number }) => [p.period, p.span_s / 3600, p.energy_wh])).toEqual([
      ['2026-03-28', 24, 24_000],
      ['2026-03-29', 23, 23_000],
      ['2026-03-30', 24, 24_000],
    ]);
    expect(days.points[1].start).toBe('2026-03-28T23:00:00.000Z');
    const fall = (await get('/sites/berlin/devices/meter/series?bucket=day&from=2026-10-25T00:00:00%2B02:00&to=2026-10-26T00:00:00%2B01:00')).json();
    expect(fall.points).toEqual([expect.objectContaining({ period: '2026-10-25', span_s: 25 * 3600, energy_wh: 25_000, count: 150 })]);
    // March 2026 in Berlin is 31 days less the hour skipped.
    const months = (await get('/sites/berlin/series?bucket=month&from=2026-03-01T00:00:00%2B01:00&to=2026-04-01T00:00:00%2B02:00')).json();
    expect(months.points).toEqual([expect.objectContaining({ period: '2026-03', span_s: (31 * 24 - 1) * 3600 })]);
  });

  it('keep the dates they had when the site changes zone; new readings follow the new one', async () => {
    const before = await processed();
    await put('moving', { time_zone: 'Asia/Tokyo' });
    // 2026-06-01T20:00Z is already 2026-06-02 in Tokyo.
    await addReadings(redis.client, [{ site_id: 'moving', device_id: 'meter', power_reading: 500, timestamp: '2026-06-01T20:00:00Z' }]);
    await eventually(async () => (await processed()) === before + 1);
    await put('moving', { time_zone: 'UTC' });
    // The zone reaches the apply step within its cache time; a fresh worker sees it at once.
    await app.worker.stop();
    const fresh = processApp(processConfig(redis.url, { AUTH_DISABLED: 'true', CONSUMER_NAME: 'fresh' }));
    await fresh.ready();
    fresh.worker.start();
    try {
      await addReadings(redis.client, [{ site_id: 'moving', device_id: 'meter', power_reading: 700, timestamp: '2026-06-01T21:00:00Z' }]);
      await eventually(async () => (await processed()) === before + 2);
      const days = (await fresh.inject({ url: '/sites/moving/series?bucket=day&from=2026-05-31T00:00:00Z&to=2026-06-04T00:00:00Z' })).json();
      expect(days.points.map((p: { period: string; count: number }) => [p.period, p.count])).toEqual([
        ['2026-06-01', 1],
        ['2026-06-02', 1],
      ]);
    } finally {
      await fresh.close();
      app.worker.start();
    }
  });

  it('are listed with DST-aware lengths', () => {
    const days = localPeriods('day', 'America/New_York', Date.parse('2026-03-07T12:00:00Z'), Date.parse('2026-03-10T12:00:00Z'));
    expect(days.map((d) => [d.label, d.spanS / 3600])).toEqual([
      ['2026-03-07', 24],
      ['2026-03-08', 23],
      ['2026-03-09', 24],
      ['2026-03-10', 24],
    ]);
  });
});
