/**
 * `npm run bench`: throughput of the hot paths, each as a ratio against a baseline measured in
 * the same run on the same private redis-server, so that a shared, noisy machine shifts both
 * sides alike. Run it before and after a change and compare the ratios, not the raw rates.
 *
 *   ingest  POST /readings/batch (validation, idempotency script, XADD) vs plain pipelined XADD
 *           POST /readings one at a time vs the batch route
 *   process the apply script (aggregates + XACK) vs plain XREADGROUP + XACK
 */
import pino from 'pino';
import { encodeReading } from '@energy-pipeline/contract/server';
import type { Reading } from '@energy-pipeline/contract';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { ingestConfig } from '../ingest/test/helpers.js';
import { processConfig, STREAM, keys } from '../process/test/helpers.js';
import { ProcessWorker } from '../process/src/worker.js';
import { startRedisServer } from '../test/support/redis-server.js';

const N = Number(process.argv[2] ?? 20_000);
const redis = await startRedisServer();
const now = Date.now();
const readings = (n: number, tag: string): Reading[] =>
  Array.from({ length: n }, (_, i) => ({
    site_id: `site-${i % 10}`,
    device_id: `device-${i % 200}`,
    power_reading: (i % 5000) - 1000,
    timestamp: new Date(now - (i % 3600) * 1000).toISOString(),
    reading_id: `${tag}-${i}`,
  }));
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
async function timed(run: () => Promise<unknown>) {
  const t = performance.now();
  await run();
  return performance.now() - t;
}
const results: [string, number, number][] = [];

try {
  // --- ingest -----------------------------------------------------------------------------
  const raw = readings(N, 'raw');
  const xaddMs = await timed(async () => {
    for (let i = 0; i < raw.length; i += 500) {
      const p = redis.client.pipeline();
      for (const r of raw.slice(i, i + 500)) p.xadd('baseline', '*', ...encodeReading(r, now));
      await p.exec();
    }
  });
  const app = buildIngestApp(ingestConfig(redis.url, { LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '0', MAX_BACKLOG: '0', MAX_EVENT_LOOP_DELAY_MS: '0' }));
  await app.ready();
  const batch = readings(N, 'batch');
  const batchMs = await timed(async () => {
    for (let i = 0; i < batch.length; i += 500) {
      const res = await app.inject({ method: 'POST', url: '/readings/batch', payload: { readings: batch.slice(i, i + 500) } });
      if (res.statusCode !== 200) throw new Error(res.body);
    }
  });
  const single = readings(Math.min(N, 5_000), 'single');
  const singleMs = await timed(async () => {
    for (const r of single) {
      const res = await app.inject({ method: 'POST', url: '/readings', payload: r });
      if (res.statusCode !== 202) throw new Error(res.body);
    }
  });
  await app.close();
  results.push(['ingest: batch route vs plain XADD pipeline', rate(N, batchMs), rate(N, xaddMs)]);
  results.push(['ingest: single route vs batch route', rate(single.length, singleMs), rate(N, batchMs)]);

  // --- process ----------------------------------------------------------------------------
  await redis.client.flushall();
  const pipe = redis.client.pipeline();
  for (const r of readings(N, 'p')) pipe.xadd(STREAM, '*', ...encodeReading(r, now));
  await pipe.exec();
  await redis.client.xgroup('CREATE', STREAM, 'baseline', '0');
  const ackMs = await timed(async () => {
    for (;;) {
      const reply = (await redis.client.xreadgroup('GROUP', 'baseline', 'b', 'COUNT', 200, 'STREAMS', STREAM, '>')) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      await redis.client.xack(STREAM, 'baseline', ...entries.map(([id]) => id));
    }
  });
  const worker = new ProcessWorker(processConfig(redis.url, { TRIM_INTERVAL_MS: '0' }), pino({ level: 'silent' }));
  const applyMs = await timed(async () => {
    worker.start();
    while (Number((await redis.client.hget(keys.stats, 'processed')) ?? 0) < N) await new Promise((r) => setTimeout(r, 5));
  });
  await worker.close();
  results.push(['process: apply script vs plain XREADGROUP + XACK', rate(N, applyMs), rate(N, ackMs)]);

  console.log(`\n${N} readings, one private redis-server\n`);
  console.log('benchmark'.padEnd(52), 'measured/s'.padStart(11), 'baseline/s'.padStart(11), 'ratio'.padStart(7));
  for (const [name, measured, baseline] of results) {
    console.log(name.padEnd(52), String(measured).padStart(11), String(baseline).padStart(11), (measured / baseline).toFixed(2).padStart(7));
  }
} finally {
  await redis.stop();
}
