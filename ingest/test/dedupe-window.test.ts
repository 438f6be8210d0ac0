import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { defineScripts } from '../src/store/scripts.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';

/**
 * The dedupe window of lua/append-readings.lua against a model of what it promises, written with
 * absolute bounds and none of the script's encoding: for each device, a value from `top` up is
 * new, a value in one of the gaps below it is new (and leaves its gap), a value below `floor` is
 * unknown, any other is a repeat; past `maxGaps - 1` closed gaps the lowest is forgotten and the
 * floor rises above it. Random devices' sequences go through both, in batches of random size, and
 * every outcome must agree.
 */
class Window {
  top: number | null = null;
  floor: number | null = null;
  /** Closed gaps, lowest first; a null lower bound is -infinity. */
  gaps: [number | null, number][] = [];

  constructor(private readonly maxClosed: number) {}

  take(v: number): 0 | 1 | 2 {
    if (this.top === null) {
      this.top = v + 1;
      this.push(null, v - 1);
      return 0;
    }
    if (v >= this.top) {
      if (v > this.top) this.push(this.top, v - 1);
      this.top = v + 1;
      return 0;
    }
    if (this.floor !== null && v < this.floor) return 2;
    for (const [i, [a, b]] of this.gaps.entries()) {
      if (a !== null && v < a) return 1;
      if (v <= b) {
        const parts: [number | null, number][] = [];
        if (a === null || a <= v - 1) parts.push([a, v - 1]);
        if (v + 1 <= b) parts.push([v + 1, b]);
        this.gaps.splice(i, 1, ...parts);
        return 0;
      }
    }
    return 1;
  }

  private push(a: number | null, b: number) {
    this.gaps.push([a, b]);
    while (this.gaps.length > this.maxClosed) this.floor = this.gaps.shift()![1] + 1;
  }

  /** The state as the script's earlier format wrote it: `<top>|<floor>|<n>|<a>:<b>,…`, lowest first. */
  earlierFormat(): string {
    const gaps = this.gaps.map(([a, b]) => `${a ?? ''}:${b}`).join(',');
    return `${this.top}|${this.floor ?? ''}|${this.gaps.length}|${gaps}`;
  }
}

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

let redis: TestRedis;
let client: Redis;
const KEYS = ['ep:{w}:readings', 'ep:{w}:dedupe'];

beforeAll(async () => {
  redis = await startRedisServer();
  client = defineScripts(new Redis(redis.url));
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});
beforeEach(async () => {
  await redis.client.flushdb();
});

/** One batch call of the script: the outcome digits. */
async function append(maxGaps: number, readings: { field: string; value: number }[]): Promise<string> {
  const lines = readings.map((r) => `${r.field}\t${r.value}\t2\n`).join('');
  const json = `[${readings.map(() => '{}').join(',')}]`;
  const [, outcomes] = await client.appendReadings(KEYS[0]!, KEYS[1]!, maxGaps, 'batch', Date.now(), lines, json);
  return outcomes;
}

/**
 * A device's next value: mostly ahead of everything (timestamps a period apart, or seq + 1),
 * sometimes a repeat, a late value just behind, or one far back, below what is remembered.
 */
function nextValue(rand: () => number, w: Window, step: number): number {
  const top = w.top ?? 1_000_000;
  const r = rand();
  if (r < 0.55) return top + (step === 1 ? 0 : Math.floor(rand() * step));
  if (r < 0.7) return top - 1 - Math.floor(rand() * 3 * step);
  if (r < 0.85) return top - 1 - Math.floor(rand() * 40 * step);
  if (r < 0.95) return top + Math.floor(rand() * 5 * step);
  return top - 1 - Math.floor(rand() * 400 * step);
}

describe('the dedupe window (append-readings.lua)', () => {
  for (const maxGaps of [2, 3, 5, 16]) {
    it(`agrees with the model on every outcome, ${maxGaps} gaps per device`, async () => {
      const rand = random(maxGaps);
      const devices = Array.from({ length: 6 }, (_, i) => ({ field: `s/d${i}${i % 2 ? '@t' : ''}`, step: i % 2 ? 1000 : 1 }));
      const models = new Map(devices.map((d) => [d.field, new Window(maxGaps - 1)]));
      const kinds = new Set<string>();
      for (let call = 0; call < 150; call++) {
        const batch = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => {
          const d = devices[Math.floor(rand() * devices.length)]!;
          return { field: d.field, value: nextValue(rand, models.get(d.field)!, d.step) };
        });
        const expected = batch.map((r) => models.get(r.field)!.take(r.value)).join('');
        expect(await append(maxGaps, batch), `call ${call}: ${JSON.stringify(batch)}`).toBe(expected);
        for (const outcome of expected) kinds.add(outcome);
      }
      // Stored, repeat and unknown all came up.
      expect([...kinds].sort()).toEqual(['0', '1', '2']);
    });
  }

  it('reads a device state in the earlier format (absolute bounds) and goes on from it', async () => {
    const rand = random(7);
    const model = new Window(4);
    for (let i = 0; i < 60; i++) model.take(nextValue(rand, model, 1000));
    await redis.client.hset(KEYS[1]!, 's/old@t', model.earlierFormat());
    for (let i = 0; i < 40; i++) {
      const value = nextValue(rand, model, 1000);
      expect(await append(5, [{ field: 's/old@t', value }]), `reading ${i}: ${value}`).toBe(String(model.take(value)));
    }
    expect(await redis.client.hget(KEYS[1]!, 's/old@t')).not.toContain('|');
  });

  it('keeps a timestamp device to a few digits per gap', async () => {
    const t0 = Date.parse('2026-11-27T00:00:00Z');
    for (let i = 0; i < 40; i++) await append(16, [{ field: 's/meter@t', value: t0 + i * 10_000 }]);
    const text = await redis.client.hget(KEYS[1]!, 's/meter@t');
    const last = t0 + 39 * 10_000;
    // last; floor 0 seen values below the lowest gap, less one; 15 gaps; the first ends just below
    // the last reading; each 9,998 ms long, with one seen value (0 more) between it and the next.
    expect(text).toBe(`${last};0;15;${last};9998,${Array(14).fill('0:9998').join(',')}`);
  });
});
