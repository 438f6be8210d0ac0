import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { EnergyPipelineClient } from '@energy-pipeline/client';
import { processApp } from '../../test/support/process-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { addReadings, keys, processConfig } from './helpers.js';

let redis: TestRedis;
let app: FastifyInstance;
let baseUrl: string;
// Two full minutes, 50 minutes ago, so that every bucket is recent and complete.
const t0 = Math.floor(Date.now() / 3600_000) * 3600_000 - 3600_000 + 5 * 60_000;
const at = (s: number) => new Date(t0 + s * 1000).toISOString();

beforeAll(async () => {
  redis = await startRedisServer();
  app = processApp(processConfig(redis.url, { QUERY_MAX_POINTS: '100' }));
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  app.worker.start();
  await addReadings(redis.client, [
    // meter: 1 kW then 3 kW in minute 0, 2 kW in minute 1
    { site_id: 'home', device_id: 'meter', power_reading: 1000, timestamp: at(0) },
    { site_id: 'home', device_id: 'meter', power_reading: 3000, timestamp: at(30) },
    { site_id: 'home', device_id: 'meter', power_reading: 2000, timestamp: at(60) },
    // pv: exporting 600 W in minute 0 only
    { site_id: 'home', device_id: 'pv', power_reading: -600, timestamp: at(15) },
    { site_id: 'depot', device_id: 'charger-1', power_reading: 7400, timestamp: at(5) },
    // One meter, its site and device spelled two ways (composed and decomposed ä, full-width digit).
    { site_id: 'Z\u00e4hler-Haus', device_id: '東京-1', power_reading: 100, timestamp: at(1) },
    { site_id: 'Za\u0308hler-Haus', device_id: '東京-\uff11', power_reading: 300, timestamp: at(2) },
  ]);
  await eventually(async () => (await redis.client.hget(keys.stats, 'processed')) === '7');
});
afterAll(async () => {
  await app.close();
  await redis.stop();
});

const get = async (url: string) => app.inject({ method: 'GET', url });

describe('query API', () => {
  it('lists sites with their device and reading counts', async () => {
    const res = await get('/sites');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      sites: [
        { site_id: 'Z\u00e4hler-Haus', devices: 1, count: 2 },
        { site_id: 'depot', devices: 1, count: 1 },
        { site_id: 'home', devices: 2, count: 4 },
      ],
      next: null,
    });
  });

  it('keeps one site and one device for two spellings of a name, and finds them by either spelling', async () => {
    for (const site of ['Z%C3%A4hler-Haus', 'Za%CC%88hler-Haus']) {
      const res = await get(`/sites/${site}/devices`);
      expect(res.statusCode, site).toBe(200);
      expect(res.json().site_id).toBe('Z\u00e4hler-Haus');
      expect(res.json().devices).toMatchObject([{ device_id: '東京-1', count: 2, mean_w: 200 }]);
    }
    const device = await get(`/sites/Za%CC%88hler-Haus/devices/${encodeURIComponent('東京-\uff11')}`);
    expect(device.json()).toMatchObject({ site_id: 'Z\u00e4hler-Haus', device_id: '東京-1', count: 2 });
  });

  it("lists a site's devices with totals and the latest reading", async () => {
    const body = (await get('/sites/home/devices')).json();
    expect(body.devices.map((d: { device_id: string }) => d.device_id)).toEqual(['meter', 'pv']);
    expect(body.devices[0]).toMatchObject({ count: 3, mean_w: 2000, min_w: 1000, max_w: 3000, latest: { timestamp: at(60), power_reading: 2000 } });
    expect((await get('/sites/nowhere/devices')).statusCode).toBe(404);
  });

  it('answers one device, or 404 naming it', async () => {
    expect((await get('/sites/home/devices/pv')).json()).toMatchObject({ count: 1, mean_w: -600, latest: { power_reading: -600 } });
    const missing = await get('/sites/home/devices/ghost');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toContain('ghost');
  });

  it('gives a device series per minute with mean power and energy', async () => {
    const res = await get(`/sites/home/devices/meter/series?bucket=minute&from=${at(0)}&to=${at(120)}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().points).toEqual([
      { start: at(0), span_s: 60, count: 2, mean_w: 2000, min_w: 1000, max_w: 3000, energy_wh: 2000 / 60 },
      { start: at(60), span_s: 60, count: 1, mean_w: 2000, min_w: 2000, max_w: 2000, energy_wh: 2000 / 60 },
    ]);
  });

  it("sums the site's devices' energies, not a mean over all its readings", async () => {
    const res = await get(`/sites/home/series?bucket=minute&from=${at(0)}&to=${at(60)}`);
    const [point] = res.json().points;
    // meter averages 2000 W and pv -600 W over the minute: 1400 W for the site.
    expect(point).toMatchObject({ count: 3, devices: 2, min_w: -600, max_w: 3000 });
    expect(point.energy_wh).toBeCloseTo(1400 / 60, 9);
    expect(point.mean_w).toBeCloseTo((1000 + 3000 - 600) / 3, 9);
  });

  it('gives hour buckets too', async () => {
    const body = (await get(`/sites/home/devices/meter/series?bucket=hour&from=${at(0)}&to=${at(3600)}`)).json();
    expect(body.points).toHaveLength(1);
    expect(body.points[0]).toMatchObject({ count: 3, mean_w: 2000, energy_wh: 2000 });
  });

  it.each([
    ['a range longer than the limit', `bucket=minute&from=${at(0)}&to=${at(101 * 60)}`, 'from'],
    ['from after to', `from=${at(60)}&to=${at(0)}`, 'from'],
    ['an unknown bucket', 'bucket=week', 'bucket'],
    ['a zone-less time', 'from=2024-01-01T00:00:00', 'from'],
    ['an unknown parameter', 'step=5', 'step'],
  ])('answers %s with 400 naming the parameter', async (_, query, field) => {
    const res = await get(`/sites/home/series?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().issues.map((i: { path: string }) => i.path)).toContain(field);
  });

  it('answers a bad site id in the path with 400', async () => {
    const res = await get('/sites/bad%20id/devices');
    expect(res.statusCode).toBe(400);
    expect(res.json().issues[0]).toMatchObject({ in: 'params', path: 'site_id' });
  });

  it('answers through the SDK, typed, and through plain HTTP', async () => {
    const client = new EnergyPipelineClient({ ingestUrl: 'http://127.0.0.1:9', processUrl: baseUrl });
    const series = await client.processor.deviceSeries({
      params: { site_id: 'depot', device_id: 'charger-1' },
      query: { bucket: 'hour', from: at(0), to: at(60) },
    });
    expect(series.points[0]?.mean_w).toBe(7400);
    // A 404 is a typed error, not a value to check.
    await expect(client.processor.device({ params: { site_id: 'depot', device_id: 'ghost' } })).rejects.toMatchObject({ status: 404 });
    const curl = await fetch(`${baseUrl}/sites/depot/devices`);
    expect(((await curl.json()) as { devices: { count: number }[] }).devices[0]!.count).toBe(1);
  });
});
