/**
 * bench:profile's `dedupe` phase: ingest's append script (ingest/lua/append-readings.lua) called
 * directly on the private redis-server, in the shapes ingest calls it, with Redis's own count of
 * its time (INFO commandstats, EVALSHA) per reading and the dedupe state's MEMORY USAGE per
 * device. Each device first sends enough readings to fill its window (DEDUPE_MAX_GAPS), unmeasured.
 *
 *   timestamps ×13   readings without seq, 13 per call from 200 devices: the single route's
 *                    coalesced calls under load
 *   timestamps ×500  a gateway's batch without seq: 10 devices, 50 readings each
 *   seq ×500         the same with seq, as the SDK numbers readings
 *   resends ×13      the timestamps ×13 readings again: every one a repeat
 */
import { Redis } from 'ioredis';
import { ingestKeys } from '@energy-pipeline/server-kit';
import { defineScripts } from '../../ingest/src/store/scripts.js';
import { commandStats, type RedisTarget } from './redis-target.js';

const MAX_GAPS = 16;
const STREAM = 'profile-dedupe';

interface Shape {
  name: string;
  devices: number;
  perCall: number;
  seq: boolean;
  /** Send the warm-up's readings again instead of new ones. */
  resend?: boolean;
}

const SHAPES: Shape[] = [
  { name: 'timestamps ×13', devices: 200, perCall: 13, seq: false },
  { name: 'timestamps ×500', devices: 10, perCall: 500, seq: false },
  { name: 'seq ×500', devices: 10, perCall: 500, seq: true },
  { name: 'resends ×13', devices: 200, perCall: 13, seq: false, resend: true },
];

export interface DedupeFigures {
  usPerReading: number;
  bytesPerDevice: number;
}

export async function profileDedupeScript(target: RedisTarget, readings = 60_000): Promise<Record<string, DedupeFigures>> {
  const client = defineScripts(new Redis(target.url));
  const { stream, dedupe } = ingestKeys(STREAM);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const figures: Record<string, DedupeFigures> = {};
  try {
    for (const shape of SHAPES) {
      await target.client.flushall('SYNC');
      // Reading k: device k % devices, its (k / devices)-th reading, 10 s after the one before.
      const call = async (from: number) => {
        let lines = '';
        let json = '[';
        for (let k = from; k < from + shape.perCall; k++) {
          const device = k % shape.devices;
          const nth = Math.floor(k / shape.devices);
          const field = `site-${device % 10}/device-${device}${shape.seq ? '' : '@t'}`;
          const value = shape.seq ? nth + 1 : t0 + nth * 10_000 + device;
          lines += `${field}\t${value}\t2\n`;
          json += k > from ? ',{}' : '{}';
        }
        await client.appendReadings(stream, dedupe, MAX_GAPS, 'batch', Date.now(), lines, `${json}]`);
      };
      const warm = shape.devices * (MAX_GAPS + 4);
      let k = 0;
      for (; k < warm; k += shape.perCall) await call(k);
      const from = shape.resend ? 0 : k;
      await target.client.config('RESETSTAT');
      let sent = 0;
      for (; sent < (shape.resend ? warm : readings); sent += shape.perCall) await call(from + sent);
      const evalsha = (await commandStats(target)).get('evalsha');
      figures[shape.name] = {
        usPerReading: (evalsha?.usec ?? Number.NaN) / sent,
        bytesPerDevice: Number(await target.client.call('MEMORY', 'USAGE', dedupe, 'SAMPLES', '0')) / shape.devices,
      };
      console.log(`dedupe ${shape.name}: ${figures[shape.name]!.usPerReading.toFixed(2)} µs of Redis per reading, ${figures[shape.name]!.bytesPerDevice.toFixed(0)} bytes per device`);
    }
  } finally {
    client.disconnect();
    await target.client.flushall('SYNC');
  }
  return figures;
}
