/**
 * Fault tests: readings flow through ingest into the stream while consumers are killed with
 * SIGKILL, or Redis itself is killed and restarted. Every reading that got a 2xx goes into a
 * ledger; at the end the aggregates must equal the figures computed from the ledger alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Reading } from '@energy-pipeline/contract';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { ingestConfig } from '../../ingest/test/helpers.js';
import { eventually, startRedisServer, type TestRedis } from '../../test/support/redis-server.js';
import { spawnService, type ServiceProcess } from '../../test/support/spawn-service.js';
import { storedReadings } from '../../test/support/stream.js';
import { ProcessWorker } from '../src/worker.js';
import { GROUP, STREAM, dumpAggregates, keys, processConfig } from './helpers.js';
import { expectedAggregates, type LedgerEntry } from './ledger.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** Deterministic pseudo-random numbers, so that a failing run can be replayed. */
function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/**
 * Readings of 40 devices at 5 sites. Devices 0-29 number their readings (seq) and send them at
 * random times of the last 3 hours; devices 30-39 send no seq, so they are identified by their
 * timestamps, which increase as a device's clock would. No device has two readings at one
 * instant, so "latest" never needs the stream id to break a tie.
 */
function makeReadings(count: number, rand: () => number): Reading[] {
  const now = Date.now();
  const used = new Set<string>();
  const seqs = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const device = i % 40;
    const device_id = `device-${device}`;
    const numbered = device < 30;
    let at = numbered ? now - 3 * 3600_000 + Math.floor(rand() * 3 * 3600_000) : now - 3 * 3600_000 + i * 100;
    while (used.has(`${device_id}@${at}`)) at += 1;
    used.add(`${device_id}@${at}`);
    const seq = (seqs.get(device_id) ?? 0) + 1;
    seqs.set(device_id, seq);
    return {
      site_id: `site-${i % 5}`,
      device_id,
      power_reading: Math.round((rand() * 20_000 - 5_000) * 1000) / 1000,
      timestamp: new Date(at).toISOString(),
      ...(numbered ? { seq } : { reading_id: `r-${i}` }),
    };
  });
}

/**
 * Posts `readings` in batches through the ingest app, retrying what was not accepted (with
 * the same reading_ids) until every reading got a 2xx; returns the ledger.
 */
async function send(ingest: FastifyInstance, readings: Reading[], batchSize: number, pauseMs: number): Promise<LedgerEntry[]> {
  const ledger: LedgerEntry[] = [];
  for (let i = 0; i < readings.length; i += batchSize) {
    let todo = readings.slice(i, i + batchSize);
    while (todo.length > 0) {
      const res = await ingest.inject({ method: 'POST', url: '/readings/batch', payload: { readings: todo } });
      if (res.statusCode === 200) {
        const results = res.json().results as { status: string; stream_id: string | null; error?: string }[];
        const retry: Reading[] = [];
        let ord = 0; // place in the batch entry: the readings stored now, in request order
        results.forEach((r, j) => {
          // A duplicate is a reading an earlier attempt stored without us hearing back (a 503
          // whose outcome was unknown): this is its first 2xx. Its entry is looked up later.
          if (r.status === 'accepted') ledger.push({ reading: todo[j]!, id: r.stream_id, ord: r.stream_id ? ord++ : 0 });
          else {
            expect(r.error).toBe('unavailable');
            retry.push(todo[j]!);
          }
        });
        todo = retry;
      } else {
        expect(res.statusCode, res.body).toBe(503); // Redis down: retry, never a 500
      }
      if (todo.length > 0) await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  return ledger;
}

/** Names the entry of every repeat in the ledger, from the stream (which must still hold it). */
async function resolveRepeats(redis: TestRedis, ledger: LedgerEntry[]) {
  if (ledger.every((e) => e.id !== null)) return;
  const identity = (r: Record<string, unknown>) => `${r.site_id}/${r.device_id}/${r.seq ?? r.timestamp}`;
  const where = new Map((await storedReadings(redis.client, STREAM)).map((s) => [identity(s.fields), s]));
  for (const e of ledger.filter((x) => x.id === null)) {
    const stored = where.get(identity(e.reading as unknown as Record<string, unknown>));
    if (!stored) throw new Error(`a repeat's original is no longer in the stream: ${identity(e.reading as never)}`);
    Object.assign(e, { id: stored.entryId, ord: stored.ord });
  }
}

async function expectLedgerApplied(redis: TestRedis, ledger: LedgerEntry[], retention: ProcessWorker['config']['consumer']['retention']) {
  await resolveRepeats(redis, ledger);
  await eventually(async () => (await redis.client.hget(keys.stats, 'processed')) === String(ledger.length), 90_000, 250);
  // Nothing pending, nothing dead-lettered, nothing counted twice.
  expect((await redis.client.xpending(STREAM, GROUP))[0]).toBe(0);
  expect(await redis.client.exists(keys.deadLetters)).toBe(0);
  expect(await dumpAggregates(redis.client, GROUP)).toEqual(expectedAggregates(ledger, retention));
}

describe('fault tests', () => {
  it('counts every accepted reading exactly once while consumer processes are killed (SIGKILL) or frozen (SIGSTOP)', { timeout: 240_000 }, async () => {
    const redis = await startRedisServer({ appendonly: true });
    cleanups.push(() => redis.stop());
    const ingest = buildIngestApp(ingestConfig(redis.url));
    cleanups.push(() => ingest.close());
    const rand = random(7);

    const env = (name: string) => ({
      REDIS_URL: redis.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', AUTH_DISABLED: 'true',
      REDIS_STREAM: STREAM, CONSUMER_GROUP: GROUP, CONSUMER_NAME: name,
      READ_COUNT: '50', READ_BLOCK_MS: '200', CLAIM_MIN_IDLE_MS: '1000', CLAIM_INTERVAL_MS: '200', TRIM_INTERVAL_MS: '250',
      LIVE_RETENTION_S: '0', // trim as soon as entries are acknowledged, to trim during the kills
    });
    let generation = 0;
    const names = [0, 1, 2].map((i) => `consumer-${i}-g0`);
    const consumers: ServiceProcess[] = names.map((name) => spawnService('process', env(name)));
    cleanups.push(async () => {
      for (const c of consumers) c.child.kill('SIGKILL');
    });

    // Every few hundred ms, either kill one consumer at random and start a replacement (half
    // the time under the same name, a restarted process; half under a new one, a new pod), or
    // freeze one past CLAIM_MIN_IDLE_MS so that others claim what it holds while it is alive:
    // when it thaws it finishes its batch, and must not count the claimed entries again.
    let kills = 0;
    let freezes = 0;
    let killing = true;
    const frozen = new Set<ServiceProcess>();
    const freeze = async (c: ServiceProcess) => {
      frozen.add(c);
      freezes += 1;
      c.child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 2_000 + rand() * 800));
      c.child.kill('SIGCONT');
      frozen.delete(c);
    };
    const thawing: Promise<void>[] = [];
    const killer = (async () => {
      while (killing) {
        await new Promise((r) => setTimeout(r, 200 + rand() * 300));
        if (!killing) break;
        const slot = Math.floor(rand() * consumers.length);
        if (frozen.has(consumers[slot]!)) continue;
        if (rand() < 0.35) {
          thawing.push(freeze(consumers[slot]!));
          continue;
        }
        consumers[slot]!.child.kill('SIGKILL');
        await consumers[slot]!.exit;
        kills += 1;
        names[slot] = rand() < 0.5 ? names[slot]! : `consumer-${slot}-g${++generation}`;
        consumers[slot] = spawnService('process', env(names[slot]!));
      }
    })();

    const ledger = await send(ingest, makeReadings(20_000, rand), 500, 150);
    await new Promise((r) => setTimeout(r, 2_000)); // keep killing while the backlog drains
    killing = false;
    await killer;
    await Promise.all(thawing);

    expect(ledger).toHaveLength(20_000);
    expect(kills).toBeGreaterThanOrEqual(10);
    expect(freezes).toBeGreaterThanOrEqual(3);
    await expectLedgerApplied(redis, ledger, processConfig(redis.url).consumer.retention);
    // Trimming ran during the kills and still lost nothing.
    expect(await redis.client.xlen(STREAM)).toBeLessThan(20_000);
  });

  it('counts every accepted reading exactly once across a Redis crash and restart', { timeout: 240_000 }, async () => {
    const redis = await startRedisServer({ appendonly: true });
    cleanups.push(() => redis.stop());
    const ingest = buildIngestApp(ingestConfig(redis.url));
    cleanups.push(() => ingest.close());
    const log = pino({ level: 'silent' });
    const workers = [0, 1, 2].map(
      (i) => new ProcessWorker(processConfig(redis.url, { CONSUMER_NAME: `w${i}`, READ_COUNT: '50', CLAIM_MIN_IDLE_MS: '1500', CLAIM_INTERVAL_MS: '300' }), log),
    );
    cleanups.push(() => Promise.all(workers.map((w) => w.close())));
    for (const w of workers) w.start();
    const rand = random(11);

    const sending = send(ingest, makeReadings(10_000, rand), 250, 50);
    await eventually(async () => Number(await redis.client.hget(keys.stats, 'processed').catch(() => 0)) > 2_000, 60_000, 50);
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1_000));
    await redis.restart();
    const ledger = await sending;

    expect(ledger).toHaveLength(10_000);
    await expectLedgerApplied(redis, ledger, workers[0]!.config.consumer.retention);
  });
});
