import { describe, expect, it } from 'vitest';
import { timestampMs } from '../src/timestamp.js';

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

describe('timestampMs', () => {
  it("answers what Date.parse answers, for the form devices send and for every other", () => {
    const rand = random(42);
    const texts: string[] = [];
    // Instants from 1970 to 2100, with and without milliseconds: the fast path.
    for (let i = 0; i < 20_000; i++) {
      const iso = new Date(Math.floor(rand() * 4_102_444_800_000)).toISOString();
      texts.push(iso, iso.replace(/\.\d{3}Z$/, 'Z'));
    }
    // Ends of months, leap days and the days that do not exist: Date.parse decides.
    for (const year of ['2023', '2024', '2100', '2000']) {
      for (const month of ['01', '02', '04', '12', '13', '00']) {
        for (const day of ['28', '29', '30', '31', '32', '00']) texts.push(`${year}-${month}-${day}T23:59:59.999Z`);
      }
    }
    // Near misses of the form: other lengths, offsets, fractions, letters where digits go.
    texts.push(
      '2026-12-08T10:30:00.5Z',
      '2026-12-08T10:30:00.123456Z',
      '2026-12-08T10:30:00+02:00',
      '2026-12-08T10:30:00.000+00:00',
      '2026-12-08 10:30:00.000Z',
      '2026-12-08T24:00:00.000Z',
      '2026-12-08T10:60:00.000Z',
      '2026-12-08T10:30:60.000Z',
      '2026-1a-08T10:30:00.000Z',
      '2026-12-08T10:30:00.0a0Z',
      '-026-12-08T10:30:00.000Z',
      '2026-12-08T10:30:00,000Z',
      '2026-12-08T10:30:00.000z',
      '0000-01-01T00:00:00Z',
      '',
      'garbage',
    );
    const differ = texts.filter((t) => !Object.is(timestampMs(t), Date.parse(t)));
    expect(differ).toEqual([]);
    expect(timestampMs('2024-01-15T10:30:00Z')).toBe(1_705_314_600_000);
  });
});
