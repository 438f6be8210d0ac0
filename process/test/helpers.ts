import { Cluster, type Redis } from 'ioredis';
import { milliwatts } from '@energy-pipeline/contract';
import { type RedisClient, redisKeys } from '@energy-pipeline/server-kit';
import type { Reading } from '@energy-pipeline/contract';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import pino from 'pino';
import { loadProcessConfig, type ProcessConfig } from '../src/config/config.js';
import { ID_LISTS_FIELD } from '../src/worker/sorted-sets.js';
import { ProcessWorker } from '../src/worker/worker.js';
import { startRedisServer, type TestRedis } from '../../test/support/redis-server.js';
import { appendReadings } from '../../test/support/readings.js';

export const STREAM = 'test_readings';
export const GROUP = 'test_group';

/**
 * Config as main.ts would build it from the environment, pointed at a test Redis. Auth is off
 * unless `env` sets API_KEYS or API_KEYS_FILE (auth.test.ts does).
 */
export function processConfig(redisUrl: string, env: Record<string, string> = {}): ProcessConfig {
  const auth = env.API_KEYS || env.API_KEYS_FILE ? {} : { AUTH_DISABLED: 'true' };
  return loadProcessConfig({
    ...auth,
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'silent',
    REDIS_STREAM: STREAM,
    CONSUMER_GROUP: GROUP,
    CONSUMER_NAME: 'consumer-a',
    READ_BLOCK_MS: '200',
    ...env,
  });
}

export const keys = redisKeys({ stream: STREAM, group: GROUP });

export function reading(i: number, overrides: Partial<Reading> = {}): Reading {
  return {
    site_id: `site-${i % 3}`,
    device_id: `device-${i % 7}`,
    power_reading: ((i * 37) % 5000) - 1000 + 0.25,
    timestamp: new Date(Date.UTC(2024, 0, 15, 10, 0, 0) + i * 1000).toISOString(),
    ...overrides,
  };
}

/** Appends readings as ingest does; returns their ids. */
export async function addReadings(redis: Redis, readings: Reading[]): Promise<string[]> {
  return appendReadings(redis, STREAM, readings, Math.max(readings.length, 1));
}

/** The totals the processor should arrive at, computed independently from the readings. */
export function expectedDeviceTotals(readings: Reading[]) {
  const out = new Map<string, { count: number; sum_mw: number; min_w: number; max_w: number }>();
  for (const r of readings) {
    const key = keys.device(r.site_id, r.device_id);
    const t = out.get(key) ?? { count: 0, sum_mw: 0, min_w: Infinity, max_w: -Infinity };
    t.count += 1;
    t.sum_mw += milliwatts(String(r.power_reading));
    t.min_w = Math.min(t.min_w, r.power_reading);
    t.max_w = Math.max(t.max_w, r.power_reading);
    out.set(key, t);
  }
  return out;
}

export async function actualDeviceTotals(redis: Redis, deviceKeys: Iterable<string>) {
  const out = new Map<string, { count: number; sum_mw: number; min_w: number; max_w: number }>();
  for (const key of deviceKeys) {
    const h = await redis.hgetall(key);
    out.set(key, { count: Number(h.count), sum_mw: Number(h.sum_mw), min_w: Number(h.min_w), max_w: Number(h.max_w) });
  }
  return out;
}

/** Every key matching `pattern`: on each master of a Redis Cluster (SCAN is per node), else on the one Redis. */
async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/**
 * Every aggregate key of `group` on `stream` (a shard's, say) with its contents, keyed by name
 * without the prefix.
 */
export async function dumpAggregates(redis: RedisClient, group: string, stream = STREAM): Promise<Record<string, unknown>> {
  const prefix = redisKeys({ stream, group }).stats.replace(/stats$/, '');
  const out: Record<string, unknown> = {};
  // A prefix ends in `}:group:`; SCAN's pattern treats `[`/`?`/`*` specially, and ids can't hold them.
  for (const key of await scanKeys(redis, `${prefix}*`)) {
    const type = await redis.type(key);
    const name = key.slice(prefix.length);
    if (type === 'hash') {
      const h = await redis.hgetall(key);
      // Not an aggregate: the marker that the id lists are sorted sets (sorted-sets.ts), written
      // or not depending on when consumers (re)started.
      if (name === 'stats') delete h[ID_LISTS_FIELD];
      out[name] = h;
    } else if (type === 'zset') {
      // Members, sorted; every score must be 0 (the API pages them with ZRANGE BYLEX), so any
      // other score shows up as `member@score` and fails the comparison.
      const flat = await redis.zrange(key, 0, -1, 'WITHSCORES');
      out[name] = flat.flatMap((v, i) => (i % 2 ? [] : [flat[i + 1] === '0' ? v : `${v}@${flat[i + 1]}`])).sort();
    } else if (type !== 'none') {
      throw new Error(`${key} is a ${type}: dumpAggregates does not know it`);
    }
  }
  return out;
}

/** Fisher-Yates with a seeded generator, so a failure can be replayed. */
export function shuffled<T>(items: T[], seed = 42): T[] {
  const out = [...items];
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Workers on one private redis-server for a test file, emptied before each test and closed
 * after it: `const t = useWorkers()`, then `t.worker(env)` and `t.redis` inside tests.
 */
export function useWorkers({ appendonly = false, env: defaults = {} as Record<string, string> } = {}) {
  const log = pino({ level: 'silent' });
  const workers: ProcessWorker[] = [];
  const t = {
    redis: undefined as unknown as TestRedis,
    /** A worker (not started) with `env` over the defaults; closed after the test. */
    worker(env: Record<string, string> = {}) {
      const w = new ProcessWorker(processConfig(t.redis.url, { ...defaults, ...env }), log);
      workers.push(w);
      return w;
    },
    /** Entries applied by the test group so far. */
    processed: async () => Number((await t.redis.client.hget(keys.stats, 'processed')) ?? 0),
  };
  beforeAll(async () => {
    t.redis = await startRedisServer({ appendonly });
  });
  afterAll(async () => t.redis?.stop());
  beforeEach(async () => {
    await t.redis.client.flushall(); // our own private server
  });
  afterEach(async () => {
    t.redis.thaw(); // a test that froze it may have failed half-way
    await Promise.all(workers.splice(0).map((w) => w.close()));
  });
  return t;
}
