import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildIngestApp } from '../src/app.js';
import { ingestConfig } from '../../test/support/ingest-app.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';

/**
 * An ingest app on a private redis-server for one test file, with an empty stream before each
 * test: `const t = useIngestApp(env)`, then `t.app` and `t.redis` inside tests.
 */
export function useIngestApp(env: Record<string, string> = {}) {
  const t = {} as { app: FastifyInstance; redis: TestRedis };
  beforeAll(async () => {
    t.redis = await startRedisServer();
    t.app = buildIngestApp(ingestConfig(t.redis.url, env));
    await t.app.ready();
  });
  afterAll(async () => {
    await t.app?.close();
    await t.redis?.stop();
  });
  beforeEach(async () => {
    await t.redis.client.del('test_readings');
  });
  return t;
}

/**
 * A private redis-server for one test file, emptied before each test, and a client of its own:
 * `const r = usePrivateRedis()`, then `r.redis` and `r.client` inside tests.
 */
export function usePrivateRedis() {
  const r = {} as { redis: TestRedis; client: Redis };
  beforeAll(async () => {
    r.redis = await startRedisServer();
    r.client = new Redis(r.redis.url);
  });
  afterAll(async () => {
    r.client?.disconnect();
    await r.redis?.stop();
  });
  beforeEach(async () => {
    await r.redis.client.flushdb();
  });
  return r;
}

export { ingestConfig, seedReading } from '../../test/support/ingest-app.js';
