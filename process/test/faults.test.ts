/**
 * Fault tests: readings flow through ingest into the stream while consumers are killed with
 * SIGKILL, or Redis itself is killed and restarted. Every reading that got a 2xx goes into a
 * ledger; at the end the aggregates must equal the figures computed from the ledger alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { ingestConfig } from '../../test/support/ingest-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { churnConsumers } from '../../test/support/consumer-churn.js';
import { ProcessWorker } from '../src/worker/worker.js';
import { GROUP, STREAM, keys, processConfig } from './helpers.js';
import type { LedgerEntry } from '../../test/support/ledger.js';
import { expectLedgerApplied, ledgerReadings, random, sendLedger } from '../../test/support/ledger-run.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const expectApplied = (redis: TestRedis, ledger: LedgerEntry[], retention: ProcessWorker['config']['consumer']['retention']) =>
  expectLedgerApplied(redis.client, ledger, retention, { streams: [STREAM], group: GROUP });

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
    // Consumers killed and replaced, or frozen past CLAIM_MIN_IDLE_MS so that others claim what
    // they hold while they are alive: when one thaws it finishes its batch, and must not count the
    // claimed entries again.
    const churn = churnConsumers({ env, rand, freezeShare: 0.35 });
    cleanups.push(() => churn.close());

    const ledger = await sendLedger(ingest, ledgerReadings(20_000, rand), { batchSize: 500, pauseMs: 150 });
    await new Promise((r) => setTimeout(r, 2_000)); // keep killing while the backlog drains
    await churn.stop();

    expect(ledger).toHaveLength(20_000);
    expect(churn.kills).toBeGreaterThanOrEqual(10);
    expect(churn.freezes).toBeGreaterThanOrEqual(3);
    await expectApplied(redis, ledger, processConfig(redis.url).consumer.retention);
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

    const sending = sendLedger(ingest, ledgerReadings(10_000, rand), { batchSize: 250, pauseMs: 50 });
    await eventually(async () => Number(await redis.client.hget(keys.stats, 'processed').catch(() => 0)) > 2_000, 60_000, 50);
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1_000));
    await redis.restart();
    const ledger = await sending;

    expect(ledger).toHaveLength(10_000);
    await expectApplied(redis, ledger, workers[0]!.config.consumer.retention);
  });
});
