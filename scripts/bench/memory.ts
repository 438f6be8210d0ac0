/**
 * `npm run bench:memory`: what the pipeline keeps in Redis per device and per reading, measured
 * on a private redis-server with the real services, not estimated. A fleet of gateways (each
 * site's devices batched, numbered with seq, one reading per device every 10 s) goes through
 * ingest and the processor; then every key is weighed with MEMORY USAGE … SAMPLES 0 and grouped
 * by kind (redis-keys.ts), beside the INFO used_memory delta. The stream is kept (no trimming)
 * and weighed per reading, as batch entries and as single-reading entries.
 *
 *   npm run bench:memory
 *   npm run bench:memory -- --sites 200 --devices-per-site 10 --minutes 30 --json memory.json
 *   npm run bench:memory -- --batch 10     a gateway sending its 10 devices' readings every 10 s
 *   npm run bench:memory -- --short-ids    ids like site-12 / device-3 instead of UUIDs
 *   npm run bench:memory -- --timestamps   readings without seq, identified by device and
 *                                          timestamp as a plain curl user's (the dedupe row)
 *   npm run bench:memory -- --dedupe-sizing   only the dedupe state's sizing table (dedupe-sizing.ts):
 *                                          bytes per device in order at 1 s, 10 s and 60 s cadence,
 *                                          with seq and without, after 1 h and in the steady state,
 *                                          and the totals for 100k and 1M devices; on --sites ×
 *                                          --devices-per-site devices (default 1,000), ingest's
 *                                          DEDUPE_* settings (its defaults, or this environment's)
 *   npm run bench:memory -- --dedupe-sizing --cadences 0.5,1   other cadences, in seconds
 *
 * docs/capacity.md turns the figures into the 1M-device plan.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import type { Reading } from '@energy-pipeline/contract';
import { appendReadings, fleetReadings } from '../lib/readings.js';
import { ingestDedupeSettings } from './dedupe-script.js';
import { formatSizing, measureDedupeSizing } from './dedupe-sizing.js';
import { readGroups } from '@energy-pipeline/server-kit';
import { eventually, startRedisServer } from '../lib/redis-server.js';
import { processCpuUs } from './process-cpu.js';
import { redisCpuUs } from './redis-target.js';
import { BENCH_AUTH, killStarted, startIngest, startProcessor } from './services.js';

const { values: flags } = parseArgs({
  options: {
    sites: { type: 'string', default: '100' },
    'devices-per-site': { type: 'string', default: '10' },
    minutes: { type: 'string', default: '20' },
    batch: { type: 'string', default: '500' },
    'short-ids': { type: 'boolean', default: false },
    timestamps: { type: 'boolean', default: false },
    'dedupe-sizing': { type: 'boolean', default: false },
    cadences: { type: 'string', default: '1,10,60' },
    json: { type: 'string' },
  },
});
const sites = Number(flags.sites);
const perSite = Number(flags['devices-per-site']);
const minutes = Number(flags.minutes);
const devices = sites * perSite;
/** Readings per request: one site's devices over BATCH / devices-per-site readings of each. */
const BATCH = Number(flags.batch);
const STEPS_PER_BATCH = Math.max(1, Math.floor(BATCH / perSite));
const steps = minutes * 6;
// The defaults' names, so that key names are as long as in production.
const stream = 'energy_readings';
const group = 'processing_group';
/**
 * Site and device ids as UUIDs (36 characters: key names carry them, so they weigh), unless
 * --short-ids (`site-12`, `device-3`).
 */
const id = (kind: 'site' | 'device', n: number) =>
  flags['short-ids'] ? `${kind}-${n}` : `${kind === 'site' ? '5173e0a2' : 'd3f1c9b4'}-0000-4000-8000-${String(n).padStart(12, '0')}`;

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);

/** A key's kind: what follows the stream's (and group's) prefix, up to the next `:` (e.g. device-minute). */
export function keyKind(key: string): string {
  if (key === stream || key === 'mem-single') return key === stream ? 'stream' : 'single-entry stream';
  const m = /^ep:\{[^}]*\}:(?:([^:]+):)?([^:]+)/.exec(key);
  if (!m) return key.startsWith('ep:rate-limit:') ? 'rate-limit' : `other (${key.slice(0, 30)})`;
  return m[1] === group ? m[2]! : (m[1] ?? m[2]!);
}

/** Sizes of every key, by kind: keys and bytes (MEMORY USAGE SAMPLES 0: every element counted). */
async function weigh(redis: Redis): Promise<Map<string, { keys: number; bytes: number }>> {
  const kinds = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const pipe = redis.pipeline();
    for (const key of keys) pipe.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    const sizes = (await pipe.exec()) ?? [];
    keys.forEach((key, i) => {
      const kind = keyKind(key);
      const k = kinds.get(kind) ?? { keys: 0, bytes: 0 };
      k.keys += 1;
      k.bytes += Number(sizes[i]?.[1] ?? 0);
      kinds.set(kind, k);
    });
  } while (cursor !== '0');
  return kinds;
}

/** --dedupe-sizing: the dedupe state alone, driven through ingest's append script. */
async function dedupeSizing(redis: Redis) {
  const settings = ingestDedupeSettings();
  const version = (await redis.info('server')).match(/redis_version:(\S+)/)?.[1];
  const started = Date.now();
  const cadencesS = flags.cadences.split(',').map(Number);
  const rows = await measureDedupeSizing(redis, { sites, perSite, batch: BATCH, id, settings, cadencesS });
  const encoding = [...new Set(rows.map((r) => r.encoding))].join(', ');
  console.log(
    `dedupe state per device, devices in order, ${flags['short-ids'] ? 'short ids' : 'UUID ids'}: ${sites} sites × ${perSite} devices = ${devices} devices ` +
      `in one dedupe hash (${encoding}), redis-server ${version}, measured with MEMORY USAGE … SAMPLES 0 (${Math.round((Date.now() - started) / 1000)} s)`,
  );
  console.log(
    `DEDUPE_WINDOW_S=${settings.windowMs / 1000} DEDUPE_SEQ_WINDOW=${settings.seqWindow} DEDUPE_MAX_PER_5MIN=${settings.maxPerChunk}; ` +
      `without seq ${cadencesS.map((c) => `${Math.round(300 / c)} readings per 5 min at ${c} s`).join(', ')} (cap ${settings.maxPerChunk}). steady: the window full and old chunks deleted ` +
      `(with seq the window is ${settings.seqWindow} readings at any cadence); totals: steady bytes per device × devices\n`,
  );
  console.log(formatSizing(rows));
  if (flags.json) writeFileSync(flags.json, `${JSON.stringify({ shortIds: flags['short-ids'], devices, settings, redis: version, rows }, null, 2)}\n`);
}

/** The pipeline's keys, weighed after a fleet's readings went through ingest and the processor. */
async function weighPipeline(server: Awaited<ReturnType<typeof startRedisServer>>) {
  // No trimming and no live window: the stream is weighed as it was written.
  const env = { LIVE_RETENTION_S: String(7 * 86_400), TRIM_INTERVAL_MS: String(3_600_000) };
  const ingest = await startIngest(server.url, stream, env);
  const processor = await startProcessor(server.url, stream, group, env);
  const empty = await usedMemory(server.client);
  // CPU per reading for the whole run (ingest's script, the processor's reads and applies), so
  // that batch sizes can be compared: how readings are grouped decides how many updates coalesce.
  const cpu = async () => ({
    redis: await redisCpuUs({ nodes: () => [server.client] }),
    ingest: processCpuUs(ingest.pid),
    processor: processCpuUs(processor.pid),
  });
  const cpu0 = await cpu();
  const startMs = Date.now() - minutes * 60_000;
  const batch = (site: number, block: number): Reading[] => {
    const out: Reading[] = [];
    for (let s = block * STEPS_PER_BATCH; s < Math.min(steps, (block + 1) * STEPS_PER_BATCH); s++) {
      for (let d = 0; d < perSite; d++) {
        out.push({
          site_id: id('site', site),
          device_id: id('device', site * perSite + d),
          power_reading: ((s * 7919 + d * 31) % 10_000) - 5_000 + 0.5,
          timestamp: new Date(startMs + s * 10_000 + d).toISOString(),
          ...(flags.timestamps ? {} : { seq: s + 1 }),
        });
      }
    }
    return out;
  };
  const post = async (readings: Reading[]) => {
    // A 503 on a loaded machine is resent, as the SDK does: a repeat is recognised, not stored twice.
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${ingest.url}/readings/batch`, {
        method: 'POST',
        headers: { ...BENCH_AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ readings }),
      });
      if (res.ok) return;
      if (res.status !== 503 || attempt >= 5) throw new Error(`POST /readings/batch: ${res.status} ${await res.text()}`);
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  };
  // Blocks in time order, sites side by side: each device's readings arrive in order, as a gateway sends them.
  for (let block = 0; block * STEPS_PER_BATCH < steps; block++) {
    for (let site = 0; site < sites; site += 8) {
      await Promise.all(Array.from({ length: Math.min(8, sites - site) }, (_, k) => post(batch(site + k, block))));
    }
  }
  const entries = await server.client.xlen(stream);
  await eventually(async () => {
    const g = (await readGroups(server.client, stream)).find((x) => x.name === group);
    return g !== undefined && (g.entriesRead ?? 0) - g.pending >= entries;
  }, 600_000, 200);
  const cpu1 = await cpu();
  await Promise.all([ingest.stop(), processor.stop()]);
  const readings = devices * steps;
  const perReading = (k: 'redis' | 'ingest' | 'processor') => {
    const a = cpu0[k];
    const b = cpu1[k];
    return a === null || b === null ? null : (b - a) / readings;
  };
  const used = (await usedMemory(server.client)) - empty;
  const kinds = await weigh(server.client);

  // Single-reading entries, as a plain producer writes them, weighed apart, with the same ids.
  const single = 20_000;
  const singles = fleetReadings(single, { sites, devices }).map((r) => ({
    ...r,
    site_id: id('site', Number(r.site_id.split('-')[1])),
    device_id: id('device', Number(r.device_id.split('-')[1])),
  }));
  await appendReadings(server.client, 'mem-single', singles);
  const singleBytes = Number(await server.client.call('MEMORY', 'USAGE', 'mem-single', 'SAMPLES', '0'));
  await server.client.del('mem-single');

  const rows = [...kinds.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
  console.log(`${flags['short-ids'] ? 'short ids' : 'UUID ids'}, ${flags.timestamps ? 'no seq (timestamp identity)' : 'seq'}; ${sites} sites × ${perSite} devices = ${devices} devices, ${minutes} min at one reading per 10 s = ${readings} readings (${entries} batch entries)`);
  console.log(`INFO used_memory grew by ${used} bytes (${(used / devices).toFixed(0)} per device); MEMORY USAGE by kind:\n`);
  console.log('kind                    keys     bytes/key   keys/device   bytes/device');
  for (const [kind, k] of rows) {
    console.log(
      `${kind.padEnd(20)} ${String(k.keys).padStart(7)} ${(k.bytes / k.keys).toFixed(0).padStart(13)} ${(k.keys / devices).toFixed(3).padStart(13)} ${(k.bytes / devices).toFixed(0).padStart(14)}`,
    );
  }
  const streamBytes = kinds.get('stream')?.bytes ?? 0;
  console.log(
    `\nCPU per reading, whole run: Redis ${perReading('redis')?.toFixed(1)} µs, ingest ${perReading('ingest')?.toFixed(1)} µs, processor ${perReading('processor')?.toFixed(1)} µs`,
  );
  console.log(`stream: ${(streamBytes / readings).toFixed(1)} bytes per reading in batch entries of ${STEPS_PER_BATCH * perSite}; ${(singleBytes / single).toFixed(1)} in single-reading entries`);
  if (flags.json) {
    writeFileSync(
      flags.json,
      `${JSON.stringify({ shortIds: flags['short-ids'], timestamps: flags.timestamps, batch: STEPS_PER_BATCH * perSite, sites, perSite, devices, minutes, readings, entries, usedMemoryDelta: used, cpuUsPerReading: { redis: perReading('redis'), ingest: perReading('ingest'), processor: perReading('processor') }, kinds: Object.fromEntries(kinds), singleEntryBytesPerReading: singleBytes / single, redis: (await server.client.info('server')).match(/redis_version:(\S+)/)?.[1] }, null, 2)}\n`,
    );
  }
}

const server = await startRedisServer();
process.once('SIGINT', () => {
  killStarted();
  void server.stop().then(() => process.exit(130));
});
try {
  if (flags['dedupe-sizing']) await dedupeSizing(server.client);
  else await weighPipeline(server);
} finally {
  await server.stop();
}
