import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { isAppRoute, type AppRoute } from '@ts-rest/core';
import { processContract, routeMetadata } from '@energy-pipeline/contract';
import { hashToken } from '@energy-pipeline/server-kit';
import { processApp } from '../../test/support/process-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { STREAM, addReadings, keys, processConfig, reading } from './helpers.js';

// One key file for both services: a gateway's write key, readers, an operator's admin key.
const WRITER = 'writer-token-8c1d2e3f4a5b6c7d8e9f';
const READER = 'reader-token-1a2b3c4d5e6f7a8b9c0d';
const SITE_A_READER = 'site-a-reader-token-0f9e8d7c6b5a4f3e';
const ADMIN = 'admin-token-6e5d4c3b2a1f0e9d8c7b';
const API_KEYS = [
  `${hashToken(WRITER)}`,
  `${hashToken(READER)}@read`,
  `${hashToken(SITE_A_READER)}@read:site-a`,
  `${hashToken(ADMIN)}@admin`,
].join('\n');

let redis: TestRedis;
let app: FastifyInstance;
let deadLetterId: string;

beforeAll(async () => {
  redis = await startRedisServer();
  app = processApp(processConfig(redis.url, { API_KEYS }));
  await app.ready();
  app.worker.start();
  await addReadings(redis.client, [
    reading(1, { site_id: 'site-a', device_id: 'meter' }),
    reading(2, { site_id: 'site-b', device_id: 'meter' }),
  ]);
  await redis.client.xadd(STREAM, '*', 'site_id', 'site-b', 'device_id', 'meter', 'power_reading', 'lots');
  await eventually(async () => (await redis.client.hget(keys.stats, 'processed')) === '2');
  await eventually(async () => (await redis.client.xlen(keys.deadLetters)) === 1);
  deadLetterId = (await redis.client.xrange(keys.deadLetters, '-', '+'))[0]![0];
});
afterAll(async () => {
  await app.close();
  await redis.stop();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const routes: [string, AppRoute][] = Object.entries(processContract as Record<string, AppRoute>).filter(([, route]) => isAppRoute(route));
const guarded = routes.filter(([, route]) => routeMetadata(route).auth !== 'public');

/** A request to `route` that would succeed with the right key: real ids, an empty filter as body. */
function requestTo(route: AppRoute, site = 'site-a'): InjectOptions {
  const url = route.path.replace(':site_id', site).replace(':device_id', 'meter').replace(':id', deadLetterId);
  const withBody = 'body' in route && route.body !== null;
  return { method: route.method, url, ...(withBody ? { payload: {} } : {}) };
}

const unchanged = async () => {
  expect(await redis.client.xlen(keys.deadLetters)).toBe(1);
  expect(await redis.client.xlen(STREAM)).toBe(3);
};

describe('processor API keys', () => {
  it('answers 401 on every data and dead-letter route without a key or with a wrong one, and changes nothing', async () => {
    expect(guarded.map(([name]) => name).sort()).toEqual(
      routes.map(([name]) => name).filter((name) => name !== 'health' && name !== 'metrics').sort(),
    );
    expect(guarded.length).toBeGreaterThanOrEqual(10);
    for (const [name, route] of guarded) {
      const cases: [Record<string, string>, string][] = [
        [{}, 'Bearer realm="processor"'],
        [bearer('not-a-key'), 'Bearer realm="processor", error="invalid_token"'],
        [{ authorization: `Basic ${Buffer.from(`u:${ADMIN}`).toString('base64')}` }, 'Bearer realm="processor", error="invalid_token"'],
        [{ authorization: hashToken(ADMIN) }, 'Bearer realm="processor", error="invalid_token"'],
      ];
      for (const [headers, challenge] of cases) {
        const res = await app.inject({ ...requestTo(route), headers });
        expect(res.statusCode, `${name} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe(challenge);
        expect(res.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
      }
      // Fastify answers HEAD for every GET route; the same rule applies.
      if (route.method === 'GET') expect((await app.inject({ ...requestTo(route), method: 'HEAD' })).statusCode, name).toBe(401);
    }
    await unchanged();
  });

  it('deletes nothing on POST /dead-letters/delete with {} and no key, or with a read key', async () => {
    expect((await app.inject({ method: 'POST', url: '/dead-letters/delete', payload: {} })).statusCode).toBe(401);
    const reader = await app.inject({ method: 'POST', url: '/dead-letters/delete', payload: {}, headers: bearer(READER) });
    expect(reader.statusCode).toBe(403);
    await unchanged();
  });

  it('answers every guarded route with the right key', async () => {
    for (const [name, route] of guarded) {
      if (routeMetadata(route).auth === 'admin') continue; // changes: below
      const res = await app.inject({ ...requestTo(route), headers: bearer(READER) });
      expect(res.statusCode, name).toBe(200);
    }
  });

  it('answers 403 insufficient_scope to a key without the route scope; admin implies read', async () => {
    for (const [name, route] of guarded) {
      const need = routeMetadata(route).auth;
      const wrong = need === 'admin' ? [WRITER, READER] : [WRITER];
      for (const token of wrong) {
        const res = await app.inject({ ...requestTo(route), headers: bearer(token) });
        expect(res.statusCode, `${name} with ${token}`).toBe(403);
        expect(res.headers['www-authenticate']).toBe(`Bearer realm="processor", error="insufficient_scope", scope="${need}"`);
        expect(res.json()).toEqual({ error: 'forbidden', message: expect.stringContaining(`${need} scope`) });
      }
    }
    await unchanged();
    for (const url of ['/sites', '/sites/site-b/devices', '/dead-letters']) {
      expect((await app.inject({ method: 'GET', url, headers: bearer(ADMIN) })).statusCode, url).toBe(200);
    }
  });

  it("limits a site-scoped read key to its sites: 403 for another site's routes and the dead letters", async () => {
    const as = (url: string) => app.inject({ method: 'GET', url, headers: bearer(SITE_A_READER) });
    for (const [name, route] of guarded.filter(([, r]) => routeMetadata(r).sites === 'param')) {
      expect((await app.inject({ ...requestTo(route, 'site-a'), headers: bearer(SITE_A_READER) })).statusCode, name).toBe(200);
      const other = await app.inject({ ...requestTo(route, 'site-b'), headers: bearer(SITE_A_READER) });
      expect(other.statusCode, name).toBe(403);
      expect(other.json().message).toContain("site 'site-b'");
    }
    // The same site spelled another way (normalization) is the same site; a bad id is a 400 as usual.
    expect((await as('/sites/site%EF%BC%8Da/devices')).statusCode).toBe(200); // full-width hyphen-minus
    expect((await as('/sites/bad%20id/devices')).statusCode).toBe(400);
    // The list shows its sites only; the dead letters hold every site's readings.
    expect((await as('/sites')).json().sites.map((s: { site_id: string }) => s.site_id)).toEqual(['site-a']);
    expect((await app.inject({ method: 'GET', url: '/sites', headers: bearer(READER) })).json().sites).toHaveLength(2);
    const deadLetters = await as('/dead-letters');
    expect(deadLetters.statusCode).toBe(403);
    expect(deadLetters.json().message).toContain('every site');
  });

  it("lets only an admin key set a site's time zone", async () => {
    const put = (token: string) =>
      app.inject({ method: 'PUT', url: '/sites/site-a', payload: { time_zone: 'Europe/Oslo' }, headers: bearer(token) });
    expect((await put(READER)).statusCode).toBe(403);
    expect((await put(ADMIN)).json()).toMatchObject({ site_id: 'site-a', time_zone: 'Europe/Oslo' });
  });

  it('lets an admin key replay and delete dead letters', async () => {
    const replay = await app.inject({ method: 'POST', url: `/dead-letters/${deadLetterId}/replay`, headers: bearer(ADMIN) });
    expect(replay.statusCode).toBe(200);
    await eventually(async () => (await redis.client.xlen(keys.deadLetters)) === 1); // invalid again, so back
    const deleted = await app.inject({ method: 'POST', url: '/dead-letters/delete', payload: {}, headers: bearer(ADMIN) });
    expect(deleted.json()).toEqual({ deleted: 1 });
  });

  it('keeps health, metrics, the OpenAPI document and the docs open', async () => {
    for (const url of ['/health', '/metrics', '/openapi.json', '/docs/']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    const text = await app.inject({ method: 'GET', url: '/metrics', headers: { accept: 'text/plain;version=0.0.4' } });
    expect(text.statusCode).toBe(200);
  });

  it('says on the OpenAPI document that auth is on', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.info.description).toMatch(/^Auth is on: /);
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).json().info.description).toBe(doc.info.description);
  });
});
