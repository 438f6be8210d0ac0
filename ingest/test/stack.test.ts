import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fastify from 'fastify';
import { initServer } from '@ts-rest/fastify';
import { ingestContract } from '@energy-pipeline/contract';
import { requestValidationErrorHandler } from '@energy-pipeline/server-kit';

const require = createRequire(import.meta.url);

// @ts-rest/fastify 3.53.0-rc.1 declares fastify ^4 as its peer; .npmrc lets npm install it
// beside fastify 5. This proves the pairing: routes register, validate and answer on 5.
describe('ts-rest on fastify 5', () => {
  it('runs the pinned versions', () => {
    expect(fastify().version).toMatch(/^5\./);
    expect(require('@ts-rest/fastify/package.json').version).toBe('3.53.0-rc.1');
  });

  it('registers contract routes as a plugin and validates bodies with zod 4', async () => {
    const app = fastify();
    const s = initServer();
    const router = s.router(ingestContract, {
      postReading: async ({ body }) => ({
        status: 202,
        body: { status: 'success', stream_id: `0-${body.power_reading}`, duplicate: false, message: 'ok' },
      }),
      postReadingsBatch: async ({ body }) => ({ status: 200, body: { accepted: 0, rejected: body.readings.length, results: [] } }),
      health: async () => ({ status: 200, body: { status: 'ok', redis: 'up', stream: 's', uptime_s: 0 } }),
      metrics: async () => ({ status: 503, body: { error: 'unavailable', message: 'n/a' } }),
    });
    app.register(s.plugin(router), { requestValidationErrorHandler, logInitialization: false });
    const ok = await app.inject({
      method: 'POST', url: '/readings',
      payload: { site_id: 's', device_id: 'd', power_reading: 7, timestamp: '2024-01-15T10:30:00Z' },
    });
    expect(ok.statusCode).toBe(202);
    expect(ok.json().stream_id).toBe('0-7');
    const bad = await app.inject({ method: 'POST', url: '/readings', payload: { site_id: 's' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['device_id', 'power_reading', 'timestamp']);
    await app.close();
  });
});
