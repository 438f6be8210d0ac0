/**
 * bench:profile's `dedupe` phase: ingest's append script (ingest/lua/append-readings.lua) called
 * through its typed port (ingest/src/store/append-readings.ts) on the private redis-server, in the
 * shapes ingest calls it, with Redis's own count of its time (INFO commandstats, EVALSHA) per
 * reading and the dedupe state's MEMORY USAGE per device. The settings are ingest's defaults
 * (DEDUPE_WINDOW_S, DEDUPE_SEQ_WINDOW, DEDUPE_MAX_PER_5MIN; the same variables set in the
 * environment override them). Each device sends one reading per 10 s, with a real fingerprint
 * and its JSON as ingest writes it.
 *
 * Before each measured row, every device first fills its window, unmeasured and in order: the
 * window and one more chunk (without seq 3,600 + 300 s, 390 readings; with seq 1,024 + 64
 * readings), so that the floor moves and old chunks are deleted as in a device's steady state.
 * Every row checks the outcomes it means to measure (stored, or repeat for resends) and says so
 * when some differ.
 *
 *   timestamps ×13   new readings without seq, in order, 13 per call from 200 devices: the single
 *                    route's coalesced calls under load (each value above its device's newest:
 *                    no look into a chunk)
 *   timestamps ×500  a gateway's batch without seq, in order: 10 devices, 50 readings each
 *   seq ×500         the same with seq, as the SDK numbers readings
 *   out-of-order ×200  new readings without seq from 25 devices, shuffled within 4-minute blocks
 *                    (24 readings of each device), 200 per call, as a gateway's parallel batches
 *                    arrive: most are below their device's newest, so each is looked for in its
 *                    chunk's text before it is stored
 *   resends ×13      the timestamps ×13 warm-up's last window of readings again, 13 per call: every
 *                    one a repeat, found in its chunk
 */
import { Redis } from 'ioredis';
import { ingestKeys } from '@energy-pipeline/server-kit';
import { loadIngestConfig } from '../../ingest/src/config/config.js';
import { type AppendOutcome, AppendReadings, type TimedReading } from '../../ingest/src/store/append-readings.js';
import { type DedupeSettings, SEQ_CHUNK, TIME_CHUNK_MS } from '../../ingest/src/store/dedupe-format.js';
import { commandStats, type RedisTarget } from './redis-target.js';

const STREAM = 'profile-dedupe';
const CADENCE_MS = 10_000;

/**
 * The dedupe settings ingest runs with: its defaults, or the DEDUPE_* variables of this
 * process's environment.
 */
export function ingestDedupeSettings(env: NodeJS.ProcessEnv = process.env): DedupeSettings {
  const dedupeEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('DEDUPE_')));
  return loadIngestConfig({ ...dedupeEnv, AUTH_DISABLED: 'true' }).dedupe;
}

interface Shape {
  name: string;
  devices: number;
  perCall: number;
  seq: boolean;
  /** in-order: new readings, device by device; shuffled: new ones, shuffled within 4-minute blocks; resend: the warm-up's last window again. */
  order: 'in-order' | 'shuffled' | 'resend';
}

const SHAPES: Shape[] = [
  { name: 'timestamps ×13', devices: 200, perCall: 13, seq: false, order: 'in-order' },
  { name: 'timestamps ×500', devices: 10, perCall: 500, seq: false, order: 'in-order' },
  { name: 'seq ×500', devices: 10, perCall: 500, seq: true, order: 'in-order' },
  { name: 'out-of-order ×200', devices: 25, perCall: 200, seq: false, order: 'shuffled' },
  { name: 'resends ×13', devices: 200, perCall: 13, seq: false, order: 'resend' },
];

/** Readings of each device in one shuffled block: 4 minutes at one per 10 s. */
const SHUFFLE_BLOCK = 24;

export interface DedupeFigures {
  usPerReading: number;
  /** Instructions Redis ran inside scripts per reading, with an instruction counter (callgrind-redis.ts). */
  instructionsPerReading?: number;
  bytesPerDevice: number;
  /** Readings measured, and how many of them had the outcome the row is about. */
  readings: number;
  expected: number;
}

/** A small seeded PRNG (mulberry32): the shuffled row is the same on every run. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Counts instructions over each measured phase (callgrind-redis.ts): zero before it, count after. */
export interface InstructionCounter {
  zero(): void;
  count(): number;
}

export async function profileDedupeScript(
  target: RedisTarget,
  readings = 60_000,
  settings = ingestDedupeSettings(),
  counter?: InstructionCounter,
): Promise<Record<string, DedupeFigures>> {
  const redis = new Redis(target.url);
  const script = new AppendReadings(redis, settings);
  const keys = ingestKeys(STREAM);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const figures: Record<string, DedupeFigures> = {};
  console.log(
    `dedupe settings: window ${settings.windowMs / 1000} s, seq window ${settings.seqWindow}, ${settings.maxPerChunk} per 5 min; one reading per 10 s per device`,
  );
  try {
    for (const shape of SHAPES) {
      await target.client.flushall('SYNC');
      // A device's nth reading (0-based), 10 s after the one before.
      const item = (device: number, nth: number): TimedReading => {
        const atMs = t0 + nth * CADENCE_MS + device;
        const reading = {
          site_id: `site-${device % 10}`,
          device_id: `device-${device}`,
          power_reading: ((nth * 7919 + device * 31) % 10_000) - 5_000 + 0.5,
          timestamp: new Date(atMs).toISOString(),
          ...(shape.seq ? { seq: nth + 1 } : {}),
        };
        return { reading, atMs };
      };
      const send = async (pairs: readonly (readonly [device: number, nth: number])[]) => {
        const outcomes: AppendOutcome[] = [];
        for (let i = 0; i < pairs.length; i += shape.perCall) {
          const readings = pairs.slice(i, i + shape.perCall).map(([d, n]) => item(d, n));
          outcomes.push(...(await script.run(keys, { mode: 'batch', readings, receivedAtMs: Date.now() })).outcomes);
        }
        return outcomes;
      };
      // Readings nth in [from, to) of every device, device by device within each step.
      const inOrder = (from: number, to: number) => {
        const out: [number, number][] = [];
        for (let n = from; n < to; n++) for (let d = 0; d < shape.devices; d++) out.push([d, n]);
        return out;
      };
      const windowReadings = shape.seq ? settings.seqWindow : Math.ceil(settings.windowMs / CADENCE_MS);
      const fill = windowReadings + (shape.seq ? SEQ_CHUNK : Math.ceil(TIME_CHUNK_MS / CADENCE_MS));
      const warm = await send(inOrder(0, fill));
      const warmStored = warm.filter((o) => o.status === 'stored').length;
      if (warmStored !== warm.length) console.warn(`dedupe ${shape.name}: warm-up stored ${warmStored} of ${warm.length}`);

      let measured: [number, number][];
      if (shape.order === 'resend') {
        measured = inOrder(fill - windowReadings, fill);
      } else if (shape.order === 'shuffled') {
        const rand = random(7);
        const steps = Math.max(SHUFFLE_BLOCK, Math.round(readings / shape.devices / SHUFFLE_BLOCK) * SHUFFLE_BLOCK);
        measured = [];
        for (let from = fill; from < fill + steps; from += SHUFFLE_BLOCK) {
          const block = inOrder(from, from + SHUFFLE_BLOCK);
          for (let i = block.length - 1; i > 0; i--) {
            const j = Math.floor(rand() * (i + 1));
            [block[i], block[j]] = [block[j]!, block[i]!];
          }
          measured.push(...block);
        }
      } else {
        measured = inOrder(fill, fill + Math.ceil(readings / shape.devices));
      }
      await target.client.config('RESETSTAT');
      counter?.zero();
      const outcomes = await send(measured);
      const instructions = counter?.count();
      const stats = await commandStats(target);
      const usec = (stats.get('evalsha')?.usec ?? 0) + (stats.get('eval')?.usec ?? 0);
      const want = shape.order === 'resend' ? 'repeat' : 'stored';
      const expected = outcomes.filter((o) => o.status === want).length;
      figures[shape.name] = {
        usPerReading: usec / outcomes.length,
        bytesPerDevice: Number(await target.client.call('MEMORY', 'USAGE', keys.dedupe, 'SAMPLES', '0')) / shape.devices,
        readings: outcomes.length,
        expected,
        ...(instructions === undefined ? {} : { instructionsPerReading: instructions / outcomes.length }),
      };
      const f = figures[shape.name]!;
      const off = expected === outcomes.length ? '' : ` (only ${expected} of ${outcomes.length} ${want}: ${JSON.stringify(tally(outcomes))})`;
      const counted = f.instructionsPerReading === undefined ? '' : `, ${Math.round(f.instructionsPerReading)} instructions`;
      console.log(`dedupe ${shape.name}: ${f.usPerReading.toFixed(2)} µs of Redis per reading${counted}, ${f.bytesPerDevice.toFixed(0)} bytes per device, ${f.readings} readings${off}`);
    }
  } finally {
    redis.disconnect();
    await target.client.flushall('SYNC');
  }
  return figures;
}

function tally(outcomes: readonly AppendOutcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) out[o.status] = (out[o.status] ?? 0) + 1;
  return out;
}
