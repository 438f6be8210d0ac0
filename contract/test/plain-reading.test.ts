import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ingestContract, parsePlainReading, ReadingBodySchema, ReadingSchema, readingJson } from '@energy-pipeline/contract';

const DAY_MS = 24 * 3600_000;

/** Ids near the edges of what the schema accepts: ASCII and not, normalized or not, at and past the length limit. */
const id = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/),
  fc.constantFrom(
    'a'.repeat(128), 'a'.repeat(129), '', ' ', '-lead', '.dot', 'a/b', 'a b', 'a@b', 'ｓｉｔｅ１', 'ﬁre', 'Zürich', 'Zu\u0308rich',
    '東京', 'a\u200db', '\u0301a', '😀', 'a\uff0fb', 'é'.repeat(128), 'x:y:z', '9', '__proto__', 'Site-1', 'a}b', '{}', 'a"b', 'a\\b',
  ),
  fc.string({ maxLength: 6 }),
  fc.integer(),
  fc.constant(null),
);

/** Watts in range and out, fractional, at the bounds, and things that are not numbers. */
const watts = fc.oneof(
  fc.double({ min: -1e9, max: 1e9, noNaN: true }),
  fc.constantFrom(0, -0, 1e9, -1e9, 1e9 + 1, -1e9 - 1, 1500.5, Number.MIN_VALUE, Number.NaN, Number.POSITIVE_INFINITY),
  fc.double(),
  fc.constantFrom('1500', null, true, [1], {}),
);

/** Date-times valid and not: zones, fractions, calendar edges, before 2000, wrong shapes. */
const timestamp = fc.oneof(
  fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2040, 0, 1) }).map((ms) => new Date(ms).toISOString()),
  fc
    .tuple(fc.integer({ min: Date.UTC(1999, 11, 31), max: Date.UTC(2030, 0, 1) }), fc.integer({ min: -14 * 60, max: 14 * 60 }))
    .map(([ms, offsetMin]) => {
      const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 19);
      const sign = offsetMin < 0 ? '-' : '+';
      const abs = Math.abs(offsetMin);
      return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
    }),
  fc.constantFrom(
    '2024-01-15T10:30:00Z', '2024-01-15T10:30:00.123456789Z', '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2024-02-30T00:00:00Z',
    '2024-01-15T24:00:00Z', '2024-01-15T10:30:60Z', '2024-01-15T10:30:00', '2024-01-15T10:30Z', '2024-01-15', '1999-12-31T23:59:59Z',
    '2000-01-01T00:00:00Z', '2000-01-01T01:00:00+01:00', '2000-01-01T00:59:59+01:00', '2024-01-15T10:30:00+25:00', '2024-01-15t10:30:00z',
    '+002024-01-15T10:30:00Z', '2024-01-15T10:30:00.Z', '2024-01-15 10:30:00Z', 'now', '',
  ),
  fc.integer({ min: 0, max: 2 ** 42 }),
  fc.constant(null),
);

const seq = fc.oneof(
  fc.nat(),
  fc.constantFrom(0, -0, -1, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 2 ** 60, Number.NaN),
  fc.constantFrom('1', null),
);

/** Well-formed readings a device would send: the fast path must take (nearly) all of them. */
const deviceReading = fc.record(
  {
    site_id: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,15}$/),
    device_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9:._-]{0,23}$/),
    power_reading: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    // From 2001: readings timestamped in 2000 go to the schema (parsePlainReading).
    timestamp: fc.integer({ min: Date.UTC(2001, 0, 1), max: Date.now() + DAY_MS }).map((ms) => new Date(ms).toISOString()),
    reading_id: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,15}$/),
    seq: fc.nat(),
  },
  { requiredKeys: ['site_id', 'device_id', 'power_reading', 'timestamp'] },
);

const wide: Record<string, fc.Arbitrary<unknown>> = { site_id: id, device_id: id, power_reading: watts, timestamp, reading_id: id, seq };

/**
 * Reading-shaped objects: a device's reading with one field swapped for a value near an edge, or
 * removed; every field at random (most of them invalid); or a reading with a field too many.
 */
const readingLike: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc
    .tuple(deviceReading, fc.constantFrom(...Object.keys(wide)))
    .chain(([base, field]) => wide[field]!.map((value) => ({ ...base, [field]: value }))),
  fc.tuple(deviceReading, fc.constantFrom(...Object.keys(wide))).map(([base, field]) => {
    const { [field]: _, ...rest } = base as Record<string, unknown>;
    return rest;
  }),
  fc.record(wide, { requiredKeys: [] }),
  deviceReading.map((r) => ({ ...r, extra: 1 })),
);

describe('parsePlainReading: ReadingSchema without zod, for plainly well-formed readings', () => {
  it('returns exactly what the schema returns, byte for byte as stored, or null (the schema then decides)', () => {
    let taken = 0;
    let valid = 0;
    fc.assert(
      fc.property(readingLike, (input) => {
        const plain = parsePlainReading(input);
        const parsed = ReadingSchema.safeParse(input);
        if (parsed.success) valid += 1;
        if (plain === null) return;
        taken += 1;
        expect(parsed.success, JSON.stringify(input)).toBe(true);
        expect(JSON.stringify(plain)).toBe(JSON.stringify(parsed.data));
        expect(plain).toEqual(parsed.data);
      }),
      { numRuns: 20_000 },
    );
    // The generator reaches both sides: readings the fast path takes, and valid ones it leaves to zod.
    expect(taken).toBeGreaterThan(100);
    expect(valid).toBeGreaterThan(taken);
  });

  it('readingJson writes what JSON.stringify writes, for every reading the schema accepts, ending at its only `}`', () => {
    let valid = 0;
    fc.assert(
      fc.property(readingLike, (input) => {
        const parsed = ReadingSchema.safeParse(input);
        if (!parsed.success) return;
        valid += 1;
        const json = readingJson(parsed.data);
        expect(json).toBe(JSON.stringify(parsed.data));
        // ingest's append script cuts a batch's array at each reading's first `}`.
        expect(json.indexOf('}')).toBe(json.length - 1);
      }),
      { numRuns: 20_000 },
    );
    expect(valid).toBeGreaterThan(1_000);
    const unicode = ReadingSchema.parse({ site_id: 'Zähler-東京', device_id: 'ｓｉｔｅ１', power_reading: -0, timestamp: '2024-01-15T10:30:00+01:00', seq: 0 });
    expect(readingJson(unicode)).toBe(JSON.stringify(unicode));
  });

  it("takes every well-formed reading a device sends, and the seed's example", () => {
    fc.assert(
      fc.property(deviceReading, (input) => {
        expect(parsePlainReading(input)).toEqual(ReadingSchema.parse(input));
      }),
      { numRuns: 5_000 },
    );
    const seed = { site_id: 'site-001', device_id: 'device-001', power_reading: 1500.5, timestamp: '2024-01-15T10:30:00Z' };
    expect(parsePlainReading(seed)).toEqual(seed);
  });

  it.each([
    ['an unknown field', { extra: 1 }],
    ['a full-width id (NFKC makes it site1)', { site_id: 'ｓｉｔｅ１' }],
    ['a non-ASCII id', { device_id: 'Zürich' }],
    ['an id past 128 characters', { device_id: 'd'.repeat(129) }],
    ['a timestamp before 2000', { timestamp: '1999-12-31T23:59:59Z' }],
    ['a date that does not exist', { timestamp: '2023-02-29T00:00:00Z' }],
    ['a fractional seq', { seq: 1.5 }],
    ['power past 1 GW', { power_reading: 1e9 + 1 }],
  ])('leaves %s to the schema', (_, patch) => {
    const seed = { site_id: 'site-001', device_id: 'device-001', power_reading: 1500.5, timestamp: '2024-01-15T10:30:00Z' };
    expect(parsePlainReading({ ...seed, ...patch })).toBeNull();
  });
});

describe("ReadingBodySchema: POST /readings' body, the plain path inside ts-rest's validation", () => {
  it('is the body of POST /readings, and validates as ReadingSchema does: the same value, or the same issues', () => {
    expect(ingestContract.postReading.body).toBe(ReadingBodySchema);
    let plain = 0;
    fc.assert(
      fc.property(readingLike, (input) => {
        const fast = ReadingBodySchema['~standard'].validate(input);
        const slow = ReadingSchema['~standard'].validate(input);
        if (parsePlainReading(input) !== null) plain += 1;
        expect(JSON.stringify(fast)).toBe(JSON.stringify(slow));
      }),
      { numRuns: 10_000 },
    );
    expect(plain).toBeGreaterThan(100);
  });

  it('documents exactly what ReadingSchema documents', () => {
    expect(z.toJSONSchema(ReadingBodySchema, { io: 'input' })).toEqual(z.toJSONSchema(ReadingSchema, { io: 'input' }));
  });
});
