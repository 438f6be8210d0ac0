import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, hashToken } from '@energy-pipeline/server-kit';
import { loadIngestConfig } from '../src/config/config.js';
import { eventually, freePort } from '../../scripts/lib/redis-server.js';
import { spawnService } from '../../scripts/lib/spawn-service.js';
import { buildIngestApp } from '../src/app.js';
import { storedReadings } from '../../test/support/stream.js';
import { ingestConfig, seedReading, useIngestApp } from './helpers.js';

const stream = 'test_readings';
// Two keys valid at once (rotation): one for any site, one scoped to two sites (one with a `:`).
const FLEET = 'fleet-token-6b1f0e6c2f0d4a8e9d51';
const GATEWAY = 'gateway-token-0c9e4b7a1d2f4e6b8a03';
const API_KEYS = `${hashToken(FLEET)}\n${hashToken(GATEWAY)}:site-001,site:002`;

const t = useIngestApp({ API_KEYS });

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url, payload, headers });

describe('API keys', () => {
  it('answers 401 with WWW-Authenticate without a key, with a wrong one, or another scheme, and stores nothing', async () => {
    const cases: [Record<string, string>, string][] = [
      [{}, 'Bearer realm="ingest"'],
      [bearer('not-a-key'), 'Bearer realm="ingest", error="invalid_token"'],
      [bearer(`${FLEET}x`), 'Bearer realm="ingest", error="invalid_token"'],
      [{ authorization: `Basic ${Buffer.from(`u:${FLEET}`).toString('base64')}` }, 'Bearer realm="ingest", error="invalid_token"'],
      [{ authorization: hashToken(FLEET) }, 'Bearer realm="ingest", error="invalid_token"'],
    ];
    for (const [headers, challenge] of cases) {
      for (const [url, payload] of [['/readings', seedReading()], ['/readings/batch', { readings: [seedReading()] }]] as const) {
        const res = await post(url, payload, headers);
        expect(res.statusCode, JSON.stringify(headers)).toBe(401);
        expect(res.headers['www-authenticate']).toBe(challenge);
        expect(res.json()).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
      }
    }
    expect(await t.redis.client.xlen(stream)).toBe(0);
  });

  it('accepts either of two configured keys (rotation)', async () => {
    expect((await post('/readings', seedReading(), bearer(FLEET))).statusCode).toBe(202);
    expect((await post('/readings', seedReading(), bearer(GATEWAY))).statusCode).toBe(202);
    expect((await post('/readings', seedReading(), { authorization: `bearer   ${FLEET}` })).statusCode).toBe(202);
    expect(await t.redis.client.xlen(stream)).toBe(3);
  });

  it("answers 403 for a reading outside the key's sites, and stores it for a site inside", async () => {
    const outside = await post('/readings', seedReading({ site_id: 'site-003' }), bearer(GATEWAY));
    expect(outside.statusCode).toBe(403);
    expect(outside.json()).toEqual({ error: 'forbidden', message: expect.stringContaining('site-003') });
    expect((await post('/readings', seedReading({ site_id: 'site:002' }), bearer(GATEWAY))).statusCode).toBe(202);
    expect((await post('/readings', seedReading({ site_id: 'site-003' }), bearer(FLEET))).statusCode).toBe(202);
    expect(await t.redis.client.xlen(stream)).toBe(2);
  });

  it('rejects out-of-scope batch items one by one as forbidden and stores the rest', async () => {
    const readings = [seedReading({ site_id: 'site-001' }), seedReading({ site_id: 'site-009' }), seedReading({ site_id: 'site:002' })];
    const res = await post('/readings/batch', { readings }, bearer(GATEWAY));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(body.results[1]).toMatchObject({ index: 1, status: 'rejected', error: 'forbidden' });
    expect(await storedReadings(t.redis.client, stream)).toHaveLength(2);
  });

  it('answers 403 insufficient_scope to a key without the write scope, and stores nothing', async () => {
    const readOnly = 'reader-token-5d2c9e7a1b3f4c6d8e0a';
    const app = buildIngestApp(ingestConfig(t.redis.url, { API_KEYS: `${hashToken(readOnly)}@read ${hashToken(FLEET)}@admin` }));
    try {
      for (const token of [readOnly, FLEET]) {
        const res = await app.inject({ method: 'POST', url: '/readings', payload: seedReading(), headers: bearer(token) });
        expect(res.statusCode).toBe(403);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="ingest", error="insufficient_scope", scope="write"');
        expect(res.json()).toMatchObject({ error: 'forbidden', message: expect.stringContaining('write scope') });
      }
    } finally {
      await app.close();
    }
    expect(await t.redis.client.xlen(stream)).toBe(0);
  });

  it('keeps health, metrics, the OpenAPI document and the docs open', async () => {
    for (const url of ['/health', '/metrics', '/openapi.json', '/docs/']) {
      expect((await t.app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });

  it('says on the OpenAPI document that auth is on', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.info.description).toMatch(/^Auth is on: /);
    expect(doc.components.securitySchemes.apiKey.description).toContain('Auth is on');
  });

  it('counts unauthenticated and forbidden readings by reason', async () => {
    await post('/readings', seedReading());
    await post('/readings', seedReading({ site_id: 'elsewhere' }), bearer(GATEWAY));
    const { rejected_by_reason } = (await t.app.inject({ method: 'GET', url: '/metrics' })).json().readings;
    expect(rejected_by_reason.unauthorized).toBeGreaterThanOrEqual(1);
    expect(rejected_by_reason.forbidden).toBeGreaterThanOrEqual(1);
  });
});

describe('API key configuration', () => {
  it.each([
    ['a plaintext token', 'my-secret-token', /not <64 hex/],
    ['a short hash', 'abc123', /not <64 hex/],
    ['a bad site', `${hashToken('a')}:site/1`, /site\/1/],
    ['a hash without its colon', `${hashToken('a')}site`, /not <64 hex/],
    ['an unknown scope', `${hashToken('a')}@write,root`, /"root".*is not a scope/],
    ['an admin key limited to sites', `${hashToken('a')}@admin:site-1`, /admin.*site list/],
  ])('refuses %s, naming API_KEYS', (_, API_KEYS, message) => {
    expect(() => loadIngestConfig({ API_KEYS })).toThrow(ConfigError);
    expect(() => loadIngestConfig({ API_KEYS })).toThrow(/API_KEYS/);
    expect(() => loadIngestConfig({ API_KEYS })).toThrow(message);
  });

  it('reads keys from API_KEYS_FILE (a mounted Kubernetes Secret) as well', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ep-keys-')), 'api-keys');
    writeFileSync(file, `${hashToken('from-file')}:site-001\n`);
    const config = loadIngestConfig({ API_KEYS_FILE: file, API_KEYS: hashToken('from-env') });
    expect(config.auth.keys).toHaveLength(2);
    expect(() => loadIngestConfig({ API_KEYS_FILE: `${file}.missing` })).toThrow(/API_KEYS_FILE.*cannot read/s);
  });

  it('fails closed: no key configured is an error unless AUTH_DISABLED=true', () => {
    expect(() => loadIngestConfig({})).toThrow(/API_KEYS/);
    expect(loadIngestConfig({ AUTH_DISABLED: 'true' }).auth).toEqual({ keys: [], disabled: true });
  });
});

describe('logs', () => {
  it('carry request ids and never a token', async () => {
    const port = await freePort();
    const svc = spawnService('ingest', {
      REDIS_URL: t.redis.url, PORT: String(port), HOST: '127.0.0.1', API_KEYS, LOG_LEVEL: 'trace', REDIS_STREAM: stream,
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await eventually(async () => (await fetch(`${base}/health`)).status === 200, 20_000, 100);
      const send = (token: string) =>
        fetch(`${base}/readings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': `req-${token.slice(0, 5)}` },
          body: JSON.stringify(seedReading()),
        });
      expect((await send(FLEET)).status).toBe(202);
      expect((await send('wrong-token-abcdef')).status).toBe(401);
      await eventually(() => svc.output().includes('req-wrong'), 5_000);
    } finally {
      svc.child.kill('SIGTERM');
      await svc.exit;
    }
    const out = svc.output();
    expect(out).toContain('"reqId":"req-fleet"');
    expect(out).toContain('"reqId":"req-wrong"');
    expect(out).not.toContain(FLEET);
    expect(out).not.toContain('wrong-token-abcdef');
  });
});
