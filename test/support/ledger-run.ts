/**
 * The ledger check's traffic and verdict, shared by the fault tests (one Redis) and the cluster
 * tests: readings sent through ingest until every one got a 2xx, each 2xx written down, and at
 * the end every shard's aggregates compared with what the ledger alone says they must be.
 */
import { expect } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Reading } from '@energy-pipeline/contract';
import { redisKeys, type RedisClient, shardOf } from '@energy-pipeline/server-kit';
import { eventually } from '../../scripts/lib/redis-server.js';
import { storedReadings } from './stream.js';
import type { Retention } from '../../process/src/queries/buckets.js';
import { dumpAggregates, expectedAggregates, type LedgerEntry } from './ledger.js';

/** Deterministic pseudo-random numbers, so that a failing run can be replayed. */
export function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/**
 * Readings of 40 devices at `sites` sites. Devices 0-29 number their readings (seq) and send them
 * at random times of the last 3 hours; devices 30-39 send no seq, so they are identified by their
 * timestamps, which increase as a device's clock would. No device has two readings at one
 * instant, so "latest" never needs the stream id to break a tie.
 */
export function ledgerReadings(count: number, rand: () => number, sites = 5): Reading[] {
  const now = Date.now();
  const used = new Set<string>();
  const seqs = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const device = i % 40;
    const device_id = `device-${device}`;
    const site_id = `site-${device % sites}`;
    const numbered = device < 30;
    let at = numbered ? now - 3 * 3600_000 + Math.floor(rand() * 3 * 3600_000) : now - 3 * 3600_000 + i * 100;
    while (used.has(`${site_id}/${device_id}@${at}`)) at += 1;
    used.add(`${site_id}/${device_id}@${at}`);
    const seq = (seqs.get(`${site_id}/${device_id}`) ?? 0) + 1;
    seqs.set(`${site_id}/${device_id}`, seq);
    return {
      site_id,
      device_id,
      power_reading: Math.round((rand() * 20_000 - 5_000) * 1000) / 1000,
      timestamp: new Date(at).toISOString(),
      ...(numbered ? { seq } : { reading_id: `r-${i}` }),
    };
  });
}

/**
 * Posts `readings` in batches through the ingest app (its stream in `shards` shards), retrying
 * what was not accepted until every reading got a 2xx; returns the ledger. A 503 (Redis down, failing over, or its write
 * outcome unknown) is retried, never a 500.
 */
export interface SendOptions {
  batchSize: number;
  /** Pause between batches. */
  pauseMs: number;
  /** The stream's shards (STREAM_SHARDS). @default 1 */
  shards?: number;
  /** Called after each batch got its 2xx, with how many readings have one so far. */
  onProgress?: (accepted: number) => void;
}

export async function sendLedger(ingest: FastifyInstance, readings: Reading[], options: SendOptions): Promise<LedgerEntry[]> {
  const { batchSize, pauseMs, shards = 1, onProgress } = options;
  const ledger: LedgerEntry[] = [];
  for (let i = 0; i < readings.length; i += batchSize) {
    let todo = readings.slice(i, i + batchSize);
    while (todo.length > 0) {
      const res = await ingest.inject({ method: 'POST', url: '/readings/batch', payload: { readings: todo } });
      if (res.statusCode === 200) {
        const results = res.json().results as { status: string; stream_id: string | null; error?: string }[];
        const retry: Reading[] = [];
        // Place in the batch entry: the readings of one entry, in request order. A batch spread
        // over shards gives one entry per shard, so places count per shard (entries of two shards
        // may have the same id: ids are made per stream, on different nodes).
        const places = new Map<number, number>();
        results.forEach((r, j) => {
          // A duplicate is a reading an earlier attempt stored without us hearing back (a 503
          // whose outcome was unknown): this is its first 2xx. Its entry is looked up later.
          if (r.status === 'accepted') {
            const shard = shardOf(todo[j]!.site_id, shards);
            const ord = r.stream_id ? (places.get(shard) ?? 0) : 0;
            if (r.stream_id) places.set(shard, ord + 1);
            ledger.push({ reading: todo[j]!, id: r.stream_id, ord });
          } else {
            expect(r.error).toBe('unavailable');
            retry.push(todo[j]!);
          }
        });
        todo = retry;
      } else {
        expect(res.statusCode, res.body).toBe(503);
      }
      if (todo.length > 0) await new Promise((r) => setTimeout(r, 100));
    }
    onProgress?.(ledger.length);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  return ledger;
}

/** Names the entry of every repeat in the ledger, from the streams (which must still hold it). */
async function resolveRepeats(redis: RedisClient, ledger: LedgerEntry[], streams: readonly string[]) {
  if (ledger.every((e) => e.id !== null)) return;
  const identity = (r: Record<string, unknown>) => `${r.site_id}/${r.device_id}/${r.seq ?? r.timestamp}`;
  const stored = (await Promise.all(streams.map((s) => storedReadings(redis, s)))).flat();
  const where = new Map(stored.map((s) => [identity(s.fields), s]));
  for (const e of ledger.filter((x) => x.id === null)) {
    const found = where.get(identity(e.reading as unknown as Record<string, unknown>));
    if (!found) throw new Error(`a repeat's original is no longer in the stream: ${identity(e.reading as never)}`);
    Object.assign(e, { id: found.entryId, ord: found.ord });
  }
}

/**
 * Waits until every shard processed its share of the ledger, then checks that nothing is pending
 * or dead-lettered and that each shard's aggregates are exactly what its readings make.
 */
export async function expectLedgerApplied(
  redis: RedisClient,
  ledger: LedgerEntry[],
  retention: Retention,
  { streams, group }: { streams: readonly string[]; group: string },
) {
  await resolveRepeats(redis, ledger, streams);
  const keys = streams.map((stream) => redisKeys({ stream, group }));
  const processed = async () => {
    let n = 0;
    for (const k of keys) n += Number((await redis.hget(k.stats, 'processed').catch(() => null)) ?? 0);
    return n;
  };
  await eventually(async () => (await processed()) === ledger.length, 90_000, 250);
  for (const [shard, stream] of streams.entries()) {
    // Nothing pending, nothing dead-lettered, nothing counted twice.
    expect((await redis.xpending(stream, group))[0]).toBe(0);
    expect(await redis.exists(keys[shard]!.deadLetters)).toBe(0);
    const own = ledger.filter((e) => shardOf(e.reading.site_id, streams.length) === shard);
    expect(await dumpAggregates(redis, group, stream)).toEqual(expectedAggregates(own, retention));
  }
}
