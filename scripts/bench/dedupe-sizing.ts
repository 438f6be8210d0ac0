/**
 * `npm run bench:memory -- --dedupe-sizing`: the dedupe state's bytes per device
 * (ingest/src/store/append-readings.ts), measured, for the sizing table in docs/operations.md.
 *
 * Per identity (without seq: device and timestamp; with seq) and cadence (one reading per 1 s,
 * 10 s, 60 s), a fleet of devices (default 1,000: 100 sites × 10, UUID ids unless --short-ids)
 * sends its readings in order through ingest's append script (its typed port, ingest's dedupe
 * settings), each site's devices batched as a gateway sends them, into one shard's dedupe hash
 * (one hash for the fleet, so it is in the hashtable encoding a real shard's is in). The hash is
 * weighed with MEMORY USAGE … SAMPLES 0 (every field counted, the table's buckets included) and
 * divided by the devices:
 *
 * - after 1 h of readings (the time window, DEDUPE_WINDOW_S), and
 * - in the steady state: the window full, plus two chunks beyond it (10 minutes without seq, 128
 *   numbers with), so that old chunks are being deleted. A space then keeps its window and the
 *   whole chunk its floor falls in (the records below the floor go with their chunk): half a chunk
 *   more on average, which the devices' phases, spread over a chunk, make the figure. With seq
 *   the window is DEDUPE_SEQ_WINDOW readings (1,024), whatever the cadence: 17 min at 1 s, 2.8 h
 *   at 10 s, 17 h at 60 s.
 *
 * Fleet totals are the steady state's bytes per device times 100,000 and 1,000,000.
 */
import type { Redis } from 'ioredis';
import { ingestKeys } from '@energy-pipeline/server-kit';
import { type AppendOutcome, AppendReadings, type TimedReading } from '../../ingest/src/store/append-readings.js';
import { type DedupeSettings, SEQ_CHUNK, TIME_CHUNK_MS } from '../../ingest/src/store/dedupe-format.js';

export interface SizingOptions {
  sites: number;
  perSite: number;
  /** Readings per call: one site's devices, BATCH / perSite readings of each. */
  batch: number;
  /** Site and device ids of either kind. */
  id: (kind: 'site' | 'device', n: number) => string;
  settings: DedupeSettings;
  cadencesS?: readonly number[];
}

export interface SizingRow {
  identity: 'no seq' | 'seq';
  cadenceS: number;
  /** Readings each device sent in all, and for the first hour. */
  readings: number;
  firstHour: { readings: number; bytesPerDevice: number };
  steady: { bytesPerDevice: number; fieldsPerDevice: number; recordsPerDevice: number };
  /** The dedupe hash's encoding (OBJECT ENCODING): hashtable, as a shard's with many devices. */
  encoding: string;
}

// The defaults' names, so that key names are as long as in production.
const STREAM = 'energy_readings';
const HOUR_MS = 3_600_000;

/** Fields and records (`,<offset>=<fingerprint>`, in closed chunks and in headers' open ones) in the dedupe hash. */
async function countRecords(redis: Redis, key: string) {
  let fields = 0;
  let records = 0;
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', 1000);
    cursor = next;
    for (let i = 0; i < flat.length; i += 2) {
      fields += 1;
      // A closed chunk's `=` are its records'; a header's are `newest=`, `floor=` and its open chunk's.
      records += flat[i + 1]!.split('=').length - 1 - (flat[i]!.includes('#') ? 0 : 2);
    }
  } while (cursor !== '0');
  return { fields, records };
}

export async function measureDedupeSizing(redis: Redis, o: SizingOptions): Promise<SizingRow[]> {
  const { sites, perSite, settings } = o;
  const devices = sites * perSite;
  const script = new AppendReadings(redis, settings);
  const keys = ingestKeys(STREAM);
  const t0 = Math.floor(Date.parse('2026-01-01T00:00:00Z') / TIME_CHUNK_MS) * TIME_CHUNK_MS;
  const rows: SizingRow[] = [];
  for (const seq of [false, true]) {
    for (const cadenceS of o.cadencesS ?? [1, 10, 60]) {
      await redis.flushall('SYNC');
      const cadenceMs = cadenceS * 1000;
      const hour = Math.ceil(HOUR_MS / cadenceMs);
      const steady = seq
        ? Math.max(hour, settings.seqWindow + 2 * SEQ_CHUNK)
        : Math.ceil((settings.windowMs + 2 * TIME_CHUNK_MS) / cadenceMs);
      // Device d's phase within a chunk: d / devices of it, so the fleet's average is measured.
      const phaseMs = (d: number) => Math.floor((d * TIME_CHUNK_MS) / devices);
      const firstSeq = (d: number) => 1 + Math.floor((d * SEQ_CHUNK) / devices);
      const item = (site: number, d: number, step: number): TimedReading => {
        const device = site * perSite + d;
        const ms = t0 + phaseMs(device) + step * cadenceMs;
        const reading = {
          site_id: o.id('site', site),
          device_id: o.id('device', device),
          power_reading: ((step * 7919 + d * 31) % 10_000) - 5_000 + 0.5,
          timestamp: new Date(ms).toISOString(),
          ...(seq ? { seq: firstSeq(device) + step } : {}),
        };
        return { reading, atMs: ms };
      };
      const perCall = Math.max(1, Math.floor(o.batch / perSite));
      const unexpected: Record<string, number> = {};
      // Steps [from, to) of every device: each site's gateway sends perCall steps of its devices
      // per call, sites side by side, blocks in time order (each device in order).
      const send = async (from: number, to: number) => {
        for (let block = from; block < to; block += perCall) {
          const end = Math.min(to, block + perCall);
          for (let site = 0; site < sites; site += 16) {
            await Promise.all(
              Array.from({ length: Math.min(16, sites - site) }, async (_, k) => {
                const readings: TimedReading[] = [];
                for (let step = block; step < end; step++) for (let d = 0; d < perSite; d++) readings.push(item(site + k, d, step));
                const { outcomes } = await script.run(keys, { mode: 'batch', readings, receivedAtMs: Date.now() });
                for (const out of outcomes as AppendOutcome[]) if (out.status !== 'stored') unexpected[out.status] = (unexpected[out.status] ?? 0) + 1;
              }),
            );
          }
          // The stream is not what is weighed: keep it from growing.
          await redis.del(keys.stream);
        }
      };
      const weigh = async () => Number(await redis.call('MEMORY', 'USAGE', keys.dedupe, 'SAMPLES', '0')) / devices;
      await send(0, hour);
      const firstHour = { readings: hour, bytesPerDevice: await weigh() };
      await send(hour, steady);
      const bytes = await weigh();
      const { fields, records } = await countRecords(redis, keys.dedupe);
      const encoding = String(await redis.object('ENCODING', keys.dedupe));
      if (Object.keys(unexpected).length > 0) console.warn(`${seq ? 'seq' : 'no seq'} at ${cadenceS} s: not every reading was stored: ${JSON.stringify(unexpected)}`);
      rows.push({
        identity: seq ? 'seq' : 'no seq',
        cadenceS,
        readings: steady,
        firstHour,
        steady: { bytesPerDevice: bytes, fieldsPerDevice: fields / devices, recordsPerDevice: records / devices },
        encoding,
      });
    }
  }
  return rows;
}

const fmtBytes = (b: number) =>
  b >= 1e9 ? `${(b / 1e9).toFixed(1)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(0)} MB` : `${(b / 1e3).toFixed(0)} kB`;

/** The rows as the Markdown table docs/operations.md quotes. */
export function formatSizing(rows: readonly SizingRow[]): string {
  const lines = [
    '| identity | cadence | bytes per device, first hour | readings kept | bytes per device, steady | bytes per reading | 100,000 devices | 1,000,000 devices |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const b = r.steady.bytesPerDevice;
    lines.push(
      `| ${r.identity === 'seq' ? '`seq`' : 'no `seq`'} | ${r.cadenceS} s | ${Math.round(r.firstHour.bytesPerDevice).toLocaleString('en-US')} | ` +
        `${Math.round(r.steady.recordsPerDevice).toLocaleString('en-US')} | ${Math.round(b).toLocaleString('en-US')} | ` +
        `${(b / r.steady.recordsPerDevice).toFixed(1)} | ${fmtBytes(b * 1e5)} | ${fmtBytes(b * 1e6)} |`,
    );
  }
  return lines.join('\n');
}
