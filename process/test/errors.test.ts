import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { processApp } from '../../test/support/process-app.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { keys, processConfig } from './helpers.js';

/** A 503 says "Redis is unavailable, retry"; a 500 says "a bug or corrupt data, look at the log". */
let redis: TestRedis;
let app: FastifyInstance;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  app = processApp(processConfig(redis.url, { LOG_LEVEL: 'info', REDIS_COMMAND_TIMEOUT_MS: '300' }), {
    logStream: { write: (line) => lines.push(JSON.parse(line)) },
  });
  await app.ready();
});
afterAll(async () => {
  redis.thaw();
  await app.close();
  await redis.stop();
});
beforeEach(async () => {
  redis.thaw();
  await redis.client.flushall(); // our own private server
  lines.length = 0;
});

const get = (url: string) => app.inject({ method: 'GET', url });
const failures = () => lines.filter((l) => l.msg === 'request failed');

describe('processor errors', () => {
  it.each([
    ['GET /sites', '/sites', keys.sites],
    ['GET /sites/:site_id/devices', '/sites/s1/devices', keys.siteDevices('s1')],
    ['GET /sites/:site_id/devices/:device_id', '/sites/s1/devices/d1', keys.device('s1', 'd1')],
    ['GET /metrics', '/metrics', keys.stats],
  ])('answers %s over a corrupted key with a 500 that hides the detail, and logs the stack', async (_, url, key) => {
    await redis.client.set(key, 'not what the processor wrote');
    const res = await get(url);
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal_error', message: 'Internal server error' });
    const [logged] = failures();
    expect(logged).toMatchObject({ level: 50, err: { message: expect.stringContaining('WRONGTYPE') } });
    expect((logged!.err as { stack: string }).stack).toMatch(/\n\s+at /);
  });

  it('answers 503 when Redis does not answer in time, and says so', async () => {
    redis.freeze();
    for (const url of ['/sites', '/sites/s1/devices', '/dead-letters', '/metrics']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(503);
      expect(res.json(), url).toEqual({ error: 'unavailable', message: 'Redis is unreachable; retry later' });
    }
    expect(failures()).toEqual([]);
  });

  it("answers what Node's HTTP parser refuses with the shared error body", async () => {
    const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    const answer = await new Promise<string>((resolve, reject) => {
      let data = '';
      const socket = connect(Number(url.port), '127.0.0.1', () => socket.write(`GET /sites HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
      socket.on('data', (chunk) => (data += chunk)).on('error', reject).on('close', () => resolve(data));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({ error: 'headers_too_large' });
  });
});
