/**
 * The dedupe window under faults: devices without seq whose readings arrive in any order (a
 * spool sent on reconnect, in parallel batches), while consumer processes are killed (SIGKILL)
 * and Redis crashes and restarts (appendonly, so nothing acknowledged is lost), then freezes. Answers the
 * client loses are resent; each resend's answer must agree with what was stored (sendLedger
 * checks each one), the stream must hold every reading exactly once, in the entry its first
 * answer named, and the aggregates must equal the figures computed from the ledger alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildIngestApp } from '@energy-pipeline/ingest';
import type { Reading } from '@energy-pipeline/contract';
import { ingestConfig } from '../../test/support/ingest-app.js';
import { eventually, startRedisServer } from '../../scripts/lib/redis-server.js';
import { churnConsumers } from '../../test/support/consumer-churn.js';
import { storedReadings } from '../../test/support/stream.js';
import { anyOrderReadings, emptySendStats, expectLedgerApplied, random, sendLedger } from '../../test/support/ledger-run.js';
import { GROUP, STREAM, processConfig } from './helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const DEVICES = 100;
const PER_DEVICE = 300;
const TOTAL = DEVICES * PER_DEVICE;
const SPAN_MS = 4 * 60_000;

const identity = (r: Record<string, unknown>) => `${r.site_id}/${r.device_id}@${Date.parse(String(r.timestamp))}`;

describe('readings in any order, under faults', () => {
  it(
    `counts exactly once ${TOTAL} readings without seq sent in random order in parallel batches, while consumers are killed and Redis restarts and freezes`,
    { timeout: 240_000 },
    async () => {
      const redis = await startRedisServer({ appendonly: true });
      cleanups.push(() => redis.stop());
      const ingest = buildIngestApp(ingestConfig(redis.url));
      cleanups.push(() => ingest.close());
      await ingest.ready();
      const rand = random(23);

      // Default retention (LIVE_RETENTION_S 300): the stream keeps every entry for the check below.
      const env = (name: string) => ({
        REDIS_URL: redis.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', AUTH_DISABLED: 'true',
        REDIS_STREAM: STREAM, CONSUMER_GROUP: GROUP, CONSUMER_NAME: name,
        READ_COUNT: '20', READ_BLOCK_MS: '200', CLAIM_MIN_IDLE_MS: '1000', CLAIM_INTERVAL_MS: '200',
      });
      // Consumers killed and replaced every few hundred ms, as pods are.
      const churn = churnConsumers({ env, rand });
      cleanups.push(() => churn.close());

      const readings = anyOrderReadings(DEVICES, PER_DEVICE, SPAN_MS, rand);
      // Each device's readings are spread over the 4 minutes and interleaved with the others'.
      const first = readings.slice(0, 200).map((r) => r.device_id);
      expect(new Set(first).size).toBeGreaterThan(50);

      // Redis crashes once a third of the readings got their 2xx, and is back a second later.
      let accepted = 0;
      const stats = emptySendStats();
      const storedAt = new Map<Reading, string[]>();
      const sending = sendLedger(ingest, readings, {
        batchSize: 200,
        pauseMs: 100,
        concurrency: 4,
        loseAnswers: 0.1,
        fresh: true,
        rand: random(29),
        stats,
        onProgress: (n) => (accepted = n),
        onStored: (reading, id) => storedAt.set(reading, [...(storedAt.get(reading) ?? []), id]),
      });
      // Waits for `accepted` to reach `n`, failing at once when an answer fails sendLedger's checks.
      const until = (n: number) =>
        Promise.race([
          eventually(() => accepted >= n, 60_000, 20),
          sending.then(() => {
            throw new Error(`sending ended before ${n} readings were accepted`);
          }),
        ]);
      await until(TOTAL / 3);
      await redis.kill();
      await new Promise((r) => setTimeout(r, 1_000));
      await redis.restart();
      // Then it freezes past REDIS_COMMAND_TIMEOUT_MS (2 s): the appends it had read are answered
      // 503 with outcome unknown, and it runs them when it thaws; their resends are duplicates.
      await until((2 * TOTAL) / 3);
      redis.freeze();
      const frozenAt = accepted;
      await new Promise((r) => setTimeout(r, 2_500));
      redis.thaw();
      const ledger = await sending;
      await new Promise((r) => setTimeout(r, 1_000)); // keep killing while the backlog drains
      await churn.stop();

      // Every reading got its 2xx once, and the faults did happen while they were sent.
      expect(ledger).toHaveLength(TOTAL);
      expect(new Set(ledger.map((e) => e.reading)).size).toBe(TOTAL);
      expect(frozenAt).toBeLessThan(TOTAL);
      expect(stats.lost).toBeGreaterThanOrEqual(3);
      expect(stats.unavailable.not_stored).toBeGreaterThan(0);
      expect(stats.unavailable.unknown).toBeGreaterThan(0);
      expect(stats.duplicates).toBeGreaterThan(0);
      expect(churn.kills).toBeGreaterThanOrEqual(5);

      // The stream holds each reading exactly once, in the entry its (first and only) "stored
      // now" answer named: no answer said "stored" for a reading that was not, or twice.
      const stored = await storedReadings(redis.client, STREAM);
      const where = new Map<string, string[]>();
      for (const s of stored) where.set(identity(s.fields), [...(where.get(identity(s.fields)) ?? []), s.entryId]);
      expect(stored).toHaveLength(TOTAL);
      expect(where.size).toBe(TOTAL);
      const disagreeing = readings.filter((r) => {
        const ids = storedAt.get(r) ?? [];
        return ids.length > 1 || (ids.length === 1 && where.get(identity(r as unknown as Record<string, unknown>))?.[0] !== ids[0]);
      });
      expect(disagreeing.map((r) => identity(r as unknown as Record<string, unknown>))).toEqual([]);

      await expectLedgerApplied(redis.client, ledger, processConfig(redis.url).consumer.retention, { streams: [STREAM], group: GROUP });
    },
  );
});
