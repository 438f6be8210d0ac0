import type { Redis } from 'ioredis';
import { milliwatts } from '@energy-pipeline/contract';
import { redisKeys } from '@energy-pipeline/server-kit';
import type { Reading } from '@energy-pipeline/contract';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import pino from 'pino';
import { ProcessWorker } from '../src/worker/worker.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { appendReadings } from '../../scripts/lib/readings.js';

export { GROUP, processConfig, STREAM } from '../../test/support/process-app.js';
import { GROUP, processConfig, STREAM } from '../../test/support/process-app.js';

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

export { dumpAggregates } from '../../test/support/ledger.js';

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
