import { describe, expect, it } from 'vitest';
import { readingJson, timestampMs, type Reading } from '@energy-pipeline/contract';
import { encodeCall, type TimedReading } from '../src/store/append-readings.js';
import { AsciiText } from '../src/store/ascii-text.js';
import { SEQ_CHUNK, TAIL_BYTES, TIME_CHUNK_MS } from '../src/store/dedupe-format.js';
import { fingerprintOf } from '../src/store/fingerprint.js';

/**
 * The append script's ARGV as its port writes it (no Redis: the script's side is
 * dedupe-window.test.ts), against the same ARGV spelled out plainly from the script's header.
 */
const settings = { windowMs: 3_600_000, seqWindow: 1024, maxPerChunk: 600 };
const timed = (reading: Reading): TimedReading => ({ reading, atMs: timestampMs(reading.timestamp) });

/** The ARGV as the script's header describes it, built with strings and nothing clever. */
function plainArgs(readings: TimedReading[], receivedAtMs: number): (string | number)[] {
  const spaces = new Map<string, number[]>();
  readings.forEach(({ reading }, r) => {
    const space = `${reading.site_id}/${reading.device_id}${reading.seq === undefined ? '@t' : ''}`;
    spaces.set(space, [...(spaces.get(space) ?? []), r]);
  });
  const runs: (string | number)[] = [];
  const order: number[] = [];
  for (const [space, members] of spaces) {
    const span = space.endsWith('@t') ? TIME_CHUNK_MS : SEQ_CHUNK;
    const valueAt = (r: number) => readings[r]!.reading.seq ?? readings[r]!.atMs;
    let run: number[] = [];
    const flush = () => {
      if (run.length === 0) return;
      const values = run.map(valueAt);
      const base = Math.floor(values[0]! / span) * span;
      const records = run.map((r) => `,${valueAt(r) - base}=${fingerprintOf(readings[r]!.reading, readings[r]!.atMs)}`).join('');
      runs.push(space, run.length, String(Math.min(...values)), String(Math.max(...values)), records);
      order.push(...run);
      run = [];
    };
    for (const r of members) {
      const chunk = (v: number) => Math.floor(v / span);
      if (run.length > 0 && (chunk(valueAt(r)) !== chunk(valueAt(run[0]!)) || run.some((m) => valueAt(m) === valueAt(r)))) flush();
      run.push(r);
    }
    flush();
  }
  const places = readings.map((_, r) => order.indexOf(r) + 1);
  const placesText = places.every((p, r) => p === r + 1) ? '' : places.join(',');
  const json = `[${readings.map((t) => readingJson(t.reading)).join(',')}]`;
  const head = ['batch', settings.windowMs, settings.seqWindow, TIME_CHUNK_MS, SEQ_CHUNK, settings.maxPerChunk, TAIL_BYTES, spaces.size, runs.length / 5];
  return [...head, ...spaces.keys(), ...runs, receivedAtMs, json, placesText];
}

const at = (ms: number) => new Date(Date.parse('2026-12-01T10:00:00Z') + ms).toISOString();

describe("the append script's port", () => {
  it('writes each run, record and place as the script reads them, whatever the order', () => {
    const cases: Reading[][] = [
      // One device in order: one run, no places.
      Array.from({ length: 5 }, (_, k) => ({ site_id: 's1', device_id: 'd', power_reading: k, timestamp: at(k * 1_000) })),
      // Two devices interleaved, with seq across a chunk's end, a repeat in the call and readings out of order.
      [60, 61, 62, 63, 64, 65, 64, 10, 9].flatMap((seq, k) => [
        { site_id: 's1', device_id: 'a', power_reading: -k, timestamp: at(k), seq },
        { site_id: 's2', device_id: 'a', power_reading: 1.5, timestamp: at(TIME_CHUNK_MS - 1 - k * 1_000) },
      ]),
      // Offsets of every length, 0 to a chunk's last ms; one device sending both ways; ids of any script.
      [0, 9, 10, 99, 100, 299_999, 300_000].flatMap((ms) => [
        { site_id: 'Zähler-東京', device_id: 'm:1', power_reading: 0, timestamp: at(ms) },
        { site_id: 'Zähler-東京', device_id: 'm:1', power_reading: 0, timestamp: at(ms), seq: ms },
      ]),
    ];
    for (const readings of cases) {
      const call = readings.map(timed);
      expect(encodeCall(settings, { mode: 'batch', readings: call, receivedAtMs: 7 }).args).toEqual(plainArgs(call, 7));
    }
  });

  it('keeps the fingerprints format 3 stores: the same reading, the same record, in every version', () => {
    // What the port wrote when format 3 was introduced (2e96b2b); a change here needs a migration.
    const written: [Reading, string][] = [
      [{ site_id: 's', device_id: 'd', power_reading: 1500.5, timestamp: '2024-01-15T10:30:00Z' }, 'U2-S'],
      [{ site_id: 's', device_id: 'd', power_reading: -0, timestamp: '2024-01-15T10:30:00Z', seq: 7 }, '4_d-yYxE'],
      [{ site_id: 's', device_id: 'd', power_reading: 0, timestamp: '2024-01-15T10:30:00.123Z', seq: 0 }, '4_d-Y-1d'],
      [{ site_id: 's', device_id: 'd', power_reading: -2500.25, timestamp: '2026-12-01T10:00:00Z', seq: 123456 }, 'QX0M_y2Z'],
      [{ site_id: 's', device_id: 'd', power_reading: 1e-9, timestamp: '2026-12-01T10:00:00Z' }, 'BCP5'],
    ];
    for (const [reading, fingerprint] of written) expect(fingerprintOf(reading, timestampMs(reading.timestamp))).toBe(fingerprint);
  });

  it('writes integers and grows past its first buffer', () => {
    const text = new AsciiText();
    for (const n of [0, 7, 10, 99, 100, 299_999, Number.MAX_SAFE_INTEGER]) {
      text.start(20).int(n);
      expect(text.take()).toBe(String(n));
    }
    text.start(100_000);
    for (let i = 0; i < 10_000; i++) text.int(i % 10);
    expect(text.take()).toBe('0123456789'.repeat(1_000));
  });
});
