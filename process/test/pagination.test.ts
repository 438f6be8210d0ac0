import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { hashToken } from '@energy-pipeline/server-kit';
import { processApp } from '../../test/support/process-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { addReadings, keys, processConfig, reading } from './helpers.js';

const READER = 'reader-token-3e4f5a6b7c8d9e0f1a2b';
const SCOPED = 'scoped-reader-token-9a8b7c6d5e4f3a2b';
/** Sites in three scripts, so that byte order (what Redis and the cursor use) is exercised. */
const SITES = [
  ...Array.from({ length: 2000 }, (_, i) => `site-${i}`),
  ...Array.from({ length: 500 }, (_, i) => `Zähler-${i}`),
  ...Array.from({ length: 500 }, (_, i) => `東京-${i}`),
];
const BIG_SITE = 'site-0';
const DEVICES = Array.from({ length: 1500 }, (_, i) => `meter-${i}`);
const byBytes = (ids: string[]) => [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

let redis: TestRedis;
let app: FastifyInstance;

beforeAll(async () => {
  redis = await startRedisServer();
  const API_KEYS = `${hashToken(READER)}@read ${hashToken(SCOPED)}@read:Zähler-7,site-10,never-seen`;
  app = processApp(processConfig(redis.url, { API_KEYS, READ_COUNT: '500' }));
  await app.ready();
  app.worker.start();
  const readings = [
    ...SITES.map((site_id, i) => reading(i, { site_id, device_id: 'meter-0' })),
    ...DEVICES.slice(1).map((device_id, i) => reading(i, { site_id: BIG_SITE, device_id })),
  ];
  await addReadings(redis.client, readings);
  await eventually(async () => Number(await redis.client.hget(keys.stats, 'processed')) === readings.length, 60_000, 100);
}, 120_000);
afterAll(async () => {
  await app.close();
  await redis.stop();
});

const get = (url: string, token = READER) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

/** Follows `next` from the first page to the last; returns every page's ids. */
async function walk(url: (after: string | null) => string, ids: (body: never) => string[], token?: string) {
  const pages: string[][] = [];
  let after: string | null = null;
  do {
    const res = await get(url(after), token);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    pages.push(ids(body as never));
    after = body.next;
    expect(pages.length).toBeLessThan(100);
  } while (after !== null);
  return pages;
}

const cursor = (after: string | null) => (after === null ? '' : `&after=${encodeURIComponent(after)}`);

describe('pagination of sites and devices', () => {
  it('pages through a few thousand sites: the pages join up to all of them, in order, without repeats', async () => {
    const pages = await walk(
      (after) => `/sites?limit=250${cursor(after)}`,
      (body: { sites: { site_id: string }[] }) => body.sites.map((s) => s.site_id),
    );
    expect(pages).toHaveLength(SITES.length / 250);
    expect(pages.every((p) => p.length === 250)).toBe(true);
    expect(pages.flat()).toEqual(byBytes(SITES));
  });

  it('gives 100 sites by default, each with its counts, and a cursor to the next', async () => {
    const body = (await get('/sites')).json();
    expect(body.sites).toHaveLength(100);
    expect(body.next).toBe(body.sites[99].site_id);
    expect(body.sites[0]).toEqual({ site_id: byBytes(SITES)[0], devices: 1, count: 1 });
    const big = (await get(`/sites?limit=1&after=${encodeURIComponent(byBytes(SITES)[byBytes(SITES).indexOf(BIG_SITE) - 1]!)}`)).json();
    expect(big.sites).toEqual([{ site_id: BIG_SITE, devices: DEVICES.length, count: DEVICES.length }]);
  });

  it("pages through a site's devices the same way, up to 1000 at a time", async () => {
    const pages = await walk(
      (after) => `/sites/${BIG_SITE}/devices?limit=1000${cursor(after)}`,
      (body: { devices: { device_id: string }[] }) => body.devices.map((d) => d.device_id),
    );
    expect(pages.map((p) => p.length)).toEqual([1000, 500]);
    expect(pages.flat()).toEqual(byBytes(DEVICES));
    const last = (await get(`/sites/${BIG_SITE}/devices?after=${encodeURIComponent(byBytes(DEVICES).at(-1)!)}`)).json();
    expect(last).toEqual({ site_id: BIG_SITE, devices: [], next: null });
    expect((await get('/sites/never-seen/devices')).statusCode).toBe(404);
  });

  it("gives a key limited to some sites the pages of its own sites that exist", async () => {
    const pages = await walk(
      (after) => `/sites?limit=1${cursor(after)}`,
      (body: { sites: { site_id: string }[] }) => body.sites.map((s) => s.site_id),
      SCOPED,
    );
    expect(pages).toEqual([['Zähler-7'], ['site-10']]);
  });

  it.each([
    ['a limit above 1000', '/sites?limit=1001', 'limit'],
    ['a limit of 0', '/sites?limit=0', 'limit'],
    ['a cursor that is not an id', '/sites?after=a%2Fb', 'after'],
    ['an unknown parameter', '/sites?offset=100', 'offset'],
    ['a device limit above 1000', `/sites/${BIG_SITE}/devices?limit=5000`, 'limit'],
  ])('answers %s with 400 naming the parameter', async (_, url, field) => {
    const res = await get(url);
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual([expect.objectContaining({ in: 'query', path: field })]);
  });
});
