import { z } from 'zod';
import { type Issue, toIssues } from './errors.js';
import { EARLIEST_TIMESTAMP, ID_MAX_LENGTH, MAX_POWER_W, type Reading, ReadingSchema } from './reading.js';

/**
 * The ids ID_PATTERN accepts that are plain ASCII: NFKC leaves ASCII unchanged, and each
 * character is one code point, so for these the schema's normalize, length and pattern checks
 * come down to this test and a length.
 */
const ASCII_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
/** What TimestampSchema's `z.iso.datetime({ offset: true })` tests: zod's own pattern. */
const DATETIME = z.regexes.datetime({ offset: true });
/**
 * From 2001 on by its year alone (the pattern makes the first four characters the year): no zone
 * offset (at most ±24 h) takes such a time before EARLIEST_TIMESTAMP, so no Date.parse is needed.
 * Times in 2000 go to the schema.
 */
const PLAINLY_AFTER_EARLIEST = String(Number(EARLIEST_TIMESTAMP.slice(0, 4)) + 1);

const FIELDS = new Set(['site_id', 'device_id', 'power_reading', 'timestamp', 'reading_id', 'seq']);

const isAsciiId = (v: unknown): v is string => typeof v === 'string' && v.length <= ID_MAX_LENGTH && ASCII_ID.test(v);

/**
 * ReadingSchema's output for a reading that plainly passes it, without zod: ASCII ids, a number
 * of watts in range, a timestamp zod's date-time pattern matches, from 2001 on, no other field.
 * Null for anything else, valid or not, so that the schema decides and names what is wrong. A
 * batch of 500 readings spent 17 % of ingest's CPU in zod (`npm run bench:profile -- --only
 * batch`); nearly every reading a device sends takes this path. contract/test/plain-reading.test.ts
 * checks, for generated readings well-formed and not, that whatever this returns is exactly what
 * the schema returns.
 */
export function parsePlainReading(input: unknown): Reading | null {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return null;
  const r = input as Record<string, unknown>;
  for (const key in r) if (!FIELDS.has(key)) return null;
  const { site_id, device_id, power_reading, timestamp, reading_id, seq } = r;
  if (!isAsciiId(site_id) || !isAsciiId(device_id)) return null;
  // Also false for NaN; JSON has no infinities, but the schema refuses them too.
  if (typeof power_reading !== 'number' || !(power_reading >= -MAX_POWER_W && power_reading <= MAX_POWER_W)) return null;
  if (typeof timestamp !== 'string' || !DATETIME.test(timestamp) || timestamp < PLAINLY_AFTER_EARLIEST) return null;
  // The schema's key order, so that the JSON stored is the same either way.
  const reading: Reading = { site_id, device_id, power_reading, timestamp };
  if (reading_id !== undefined) {
    if (!isAsciiId(reading_id)) return null;
    reading.reading_id = reading_id;
  }
  if (seq !== undefined) {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return null;
    reading.seq = seq;
  }
  return reading;
}

/**
 * A reading checked as ReadingSchema checks it, by every party that reads one in bulk (ingest's
 * batch route, the processor's entry decoder): the plain path first, the schema for the rest and
 * to name what is wrong, with issue paths within the reading (`in: 'body'`).
 */
export function parseReading(input: unknown): { ok: true; reading: Reading } | { ok: false; issues: Issue[] } {
  const plain = parsePlainReading(input);
  if (plain !== null) return { ok: true, reading: plain };
  const parsed = ReadingSchema.safeParse(input);
  return parsed.success ? { ok: true, reading: parsed.data } : { ok: false, issues: toIssues('body', parsed.error.issues) };
}

/**
 * ReadingSchema for POST /readings' body. ts-rest validates a body through its Standard Schema
 * `validate`, with no way to put parsePlainReading first; this copy's `validate` does: the plain
 * path, then zod for the rest (and to name what is wrong). A copy (zod's clone keeps its
 * description and examples), so that ReadingSchema itself stays plain zod. Everything else sees
 * the same schema: the OpenAPI document, the SDK's types and `safeParse`. zod was 16 % of a single
 * reading's CPU in ingest (`npm run bench:profile -- --only single`).
 */
export const ReadingBodySchema = withPlainPath(ReadingSchema.clone());

function withPlainPath(schema: typeof ReadingSchema): typeof ReadingSchema {
  const zod = schema['~standard'];
  schema['~standard'] = {
    ...zod,
    validate: (value, options) => {
      const plain = parsePlainReading(value);
      return plain !== null ? { value: plain } : zod.validate(value, options);
    },
  };
  return schema;
}
