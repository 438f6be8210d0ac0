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
 * Readings of `devices` devices (at `sites` sites) without seq, `perDevice` each, at timestamps
 * unique per device within the last `spanMs`, with unique reading_ids, in random order: what
 * devices that spool while offline send when they reconnect, any order within the dedupe window.
 */
export function anyOrderReadings(devices: number, perDevice: number, spanMs: number, rand: () => number, sites = 10): Reading[] {
  if (perDevice > spanMs) throw new Error(`${perDevice} unique timestamps do not fit in ${spanMs} ms`);
  const now = Date.now();
  const out: Reading[] = [];
  for (let d = 0; d < devices; d++) {
    const used = new Set<number>();
    while (used.size < perDevice) used.add(now - spanMs + Math.floor(rand() * spanMs));
    for (const at of used) {
      out.push({
        site_id: `site-${d % sites}`,
        device_id: `device-${d}`,
        power_reading: Math.round((rand() * 20_000 - 5_000) * 1000) / 1000,
        timestamp: new Date(at).toISOString(),
        reading_id: `r-${d}-${out.length}`,
      });
    }
  }
  // Fisher-Yates: the devices' readings interleaved, and each device's in random order.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Posts `readings` in batches through the ingest app (its stream in `shards` shards), retrying
 * what was not accepted until every reading got a 2xx; returns the ledger. A 503 (Redis down, failing over, or its write
 * outcome unknown) is retried, never a 500.
 *
 * Every answer must agree with what earlier answers said was stored: one an answer said was
 * stored (an answer the client then lost) is accepted as a duplicate, never as new. With `fresh`
 * (none of `readings` was sent before), a reading that no answer may have stored (never sent, or
 * only answered `not_stored`) is accepted as new, never as a duplicate. Nothing is refused but
 * `unavailable`.
 */
export interface SendOptions {
  batchSize: number;
  /** Pause between batches (each sender's). */
  pauseMs: number;
  /** The stream's shards (STREAM_SHARDS). @default 1 */
  shards?: number;
  /** Called after each batch got its 2xx, with how many readings have one so far. */
  onProgress?: (accepted: number) => void;
  /** Senders posting batches at once, each the next batch not yet taken. @default 1 */
  concurrency?: number;
  /**
   * Share of the 200 answers the client "loses" (as when its connection drops before the answer
   * arrives): the batch is resent whole, and the resend's answer must agree with the lost one.
   * @default 0
   */
  loseAnswers?: number;
  /**
   * None of `readings` was sent before (through another path, e.g. a probe whose answer was a 503):
   * one that no answer here may have stored must not be accepted as a duplicate. @default false
   */
  fresh?: boolean;
  /** Decides which answers are lost. @default Math.random */
  rand?: () => number;
  /** Called for each reading every time an answer (a lost one too) says it was stored now. */
  onStored?: (reading: Reading, id: string) => void;
  /** Filled in as the answers come. */
  stats?: SendStats;
}

export interface SendStats {
  requests: number;
  /** 503s, and items answered `unavailable`, by outcome. */
  unavailable: { unknown: number; not_stored: number };
  /** 200 answers thrown away, their batch resent. */
  lost: number;
  /** Readings accepted as duplicates. */
  duplicates: number;
}

export const emptySendStats = (): SendStats => ({ requests: 0, unavailable: { unknown: 0, not_stored: 0 }, lost: 0, duplicates: 0 });

/** What the client knows of one reading from the answers so far ('maybe' too when not `fresh`). */
type Known = 'never' | 'maybe' | 'stored';

interface ItemResult {
  status: string;
  stream_id?: string | null;
  duplicate?: boolean;
  error?: string;
  outcome?: string;
}

export async function sendLedger(ingest: FastifyInstance, readings: Reading[], options: SendOptions): Promise<LedgerEntry[]> {
  const { batchSize, pauseMs, shards = 1, onProgress, concurrency = 1, loseAnswers = 0, fresh = false, rand = Math.random, onStored } = options;
  const stats = options.stats ?? emptySendStats();
  const ledger: LedgerEntry[] = [];
  const known = new Map<Reading, Known>();
  const describe = (r: Reading) => `${r.site_id}/${r.device_id} ${r.seq !== undefined ? `seq ${r.seq}` : r.timestamp}`;

  /** Checks one item's answer against what was known of it, and updates that. */
  const take = (reading: Reading, r: ItemResult) => {
    const was = known.get(reading) ?? (fresh ? 'never' : 'maybe');
    if (r.status === 'accepted') {
      if (r.duplicate) {
        stats.duplicates += 1;
        expect(was, `${describe(reading)}: accepted as a duplicate, but no earlier answer may have stored it`).not.toBe('never');
        expect(r.stream_id).toBeNull();
      } else {
        expect(was, `${describe(reading)}: accepted as new, but an earlier answer said it was stored`).not.toBe('stored');
        expect(r.stream_id).toMatch(/^\d+-\d+$/);
        onStored?.(reading, r.stream_id!);
      }
      known.set(reading, 'stored');
      return true;
    }
    expect(r.error, `${describe(reading)}: ${JSON.stringify(r)}`).toBe('unavailable');
    stats.unavailable[r.outcome === 'not_stored' ? 'not_stored' : 'unknown'] += 1;
    if (r.outcome !== 'not_stored' && was === 'never') known.set(reading, 'maybe');
    return false;
  };

  const sendBatch = async (batch: Reading[]) => {
    let todo = batch;
    while (todo.length > 0) {
      stats.requests += 1;
      const res = await ingest.inject({ method: 'POST', url: '/readings/batch', payload: { readings: todo } });
      if (res.statusCode === 200) {
        const results = res.json().results as ItemResult[];
        expect(results).toHaveLength(todo.length);
        if (rand() < loseAnswers) {
          // The answer never reaches the client: what it says is known to the test, not to the
          // client, which resends the whole batch.
          stats.lost += 1;
          results.forEach((r, j) => {
            take(todo[j]!, r);
          });
          continue;
        }
        const retry: Reading[] = [];
        // Place in the batch entry: the readings of one entry, in request order. A batch spread
        // over shards gives one entry per shard, so places count per shard (entries of two shards
        // may have the same id: ids are made per stream, on different nodes).
        const places = new Map<number, number>();
        results.forEach((r, j) => {
          // A duplicate is a reading an earlier attempt stored without us hearing back (a 503
          // whose outcome was unknown, or a lost answer): this is its first 2xx. Its entry is
          // looked up later.
          if (take(todo[j]!, r)) {
            const shard = shardOf(todo[j]!.site_id, shards);
            const ord = r.stream_id ? (places.get(shard) ?? 0) : 0;
            if (r.stream_id) places.set(shard, ord + 1);
            ledger.push({ reading: todo[j]!, id: r.stream_id ?? null, ord });
          } else {
            retry.push(todo[j]!);
          }
        });
        todo = retry;
      } else {
        expect(res.statusCode, res.body).toBe(503);
        let outcome: string | undefined;
        try {
          outcome = (res.json() as { outcome?: string }).outcome;
        } catch {
          // Not JSON: nothing said about the outcome, which is then unknown.
        }
        for (const reading of todo) take(reading, { status: 'rejected', error: 'unavailable', ...(outcome ? { outcome } : {}) });
      }
      if (todo.length > 0) await new Promise((r) => setTimeout(r, 100));
    }
    onProgress?.(ledger.length);
    await new Promise((r) => setTimeout(r, pauseMs));
  };

  let next = 0;
  const sender = async () => {
    while (next < readings.length) {
      const from = next;
      next += batchSize;
      await sendBatch(readings.slice(from, from + batchSize));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
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
