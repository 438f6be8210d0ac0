import { z } from 'zod';
import { EXAMPLE_TIME, withExamples } from './examples.js';
import { timestampMs } from './timestamp.js';

/**
 * Identifiers (site_id, device_id, reading_id) become parts of Redis key names, URL path segments
 * and entries of API key files, so some characters can never occur in them: `/` (the key
 * separator), `{}` (Redis Cluster hash tags), `,;@:#` and whitespace (key-file separators and
 * comments; `:` is the exception, see below), and control or format characters (invisible,
 * and a way to spell one name twice). What remains is what names are made of in any script:
 * Unicode letters, combining marks and decimal digits, plus `.`, `_`, `:` and `-`; the first
 * character a letter or digit. `:` stays allowed because MAC-style device ids use it (key files
 * put the 64-digit hash first, so a site list never needs `:` as a separator).
 */
export const ID_PATTERN = /^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}._:-]*$/u;
/** In Unicode code points (what JSON Schema's maxLength counts), after normalization: at most 512 bytes of UTF-8. */
export const ID_MAX_LENGTH = 128;

/**
 * Ids are normalized to NFKC before they are checked, by every party that uses this schema (ingest,
 * the processor's path parameters and filters, API key files, the SDK), so that two spellings of
 * one name are one id. NFC alone would merge only canonically equivalent spellings (a composed `ä`
 * and `a` + U+0308); NFKC also merges compatibility variants that keyboards and input methods
 * produce without the user noticing: full-width `ｓｉｔｅ１` (the default in many Japanese and
 * Chinese input modes) is `site1`, and a ligature `ﬁ` is `fi`. For identifiers that is the point
 * (Python and UTS #46 do the same); what NFKC loses, such as a superscript, never distinguishes
 * two sites. NFKC can turn a character into a separator (full-width `／` into `/`), which is why
 * the pattern is checked after normalizing, on what is stored. Case is kept: `Site-1` and `site-1`
 * stay two ids, as they always were.
 */
export const ID_NORMALIZATION = 'NFKC';

const codePoints = (s: string) => {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
};

/** Largest accepted magnitude of `power_reading`, in watts (1 GW: far beyond any single device). */
export const MAX_POWER_W = 1e9;

/**
 * A device's reading sequence number: a non-negative integer that JSON numbers carry exactly
 * (at most 2^53 - 1), so that every language's JSON library reads the same value.
 */
export const SeqSchema = z
  .number({ message: 'must be a non-negative integer' })
  .int('must be a non-negative integer')
  .min(0, 'must be a non-negative integer')
  .max(Number.MAX_SAFE_INTEGER, `must be at most ${Number.MAX_SAFE_INTEGER}`);

export const IdSchema = z
  .string()
  .normalize(ID_NORMALIZATION)
  .min(1, 'must not be empty')
  // abort: a too-long id gets one message, not a second one about its characters.
  .refine((s) => codePoints(s) <= ID_MAX_LENGTH, { message: `must be at most ${ID_MAX_LENGTH} characters`, abort: true })
  .regex(ID_PATTERN, 'may contain only letters, marks, digits and . _ : - and must start with a letter or digit')
  // The refine above is invisible to JSON Schema; maxLength counts code points there too.
  .meta({ maxLength: ID_MAX_LENGTH });

/**
 * Earliest accepted measurement time. A reading may be any age (a meter that was offline for months
 * still delivers its spool), but one from before 2000 comes from a device whose clock was never set
 * (1970-01-01 is an RTC's zero), and counting it would only pollute the figures.
 */
export const EARLIEST_TIMESTAMP = '2000-01-01T00:00:00Z';
const earliestMs = Date.parse(EARLIEST_TIMESTAMP);

/** ISO 8601 date-time with an explicit zone (`Z` or `+hh:mm`): a zone-less time is ambiguous. */
export const TimestampSchema = z.iso
  .datetime({ offset: true, abort: true, message: 'must be an ISO 8601 date-time with a zone, e.g. 2024-01-15T10:30:00Z' })
  .refine((t) => Date.parse(t) >= earliestMs, `must not be before ${EARLIEST_TIMESTAMP}: is the device's clock set?`);

/**
 * The reading the API documents show and Swagger UI's "Try it out" sends: the seed's reading,
 * timestamped "now" once the generator has moved EXAMPLE_TIME (examples.ts). Without reading_id
 * and seq, which a device's SDK assigns.
 */
export const EXAMPLE_READING = {
  site_id: 'site-001',
  device_id: 'device-001',
  power_reading: 1500.5,
  timestamp: EXAMPLE_TIME,
} as const;

export const ReadingSchema = withExamples(
  z
    .strictObject({
      site_id: withExamples(IdSchema.describe('Site the device belongs to'), EXAMPLE_READING.site_id),
      device_id: withExamples(IdSchema.describe('Device id, unique within its site'), EXAMPLE_READING.device_id),
      power_reading: withExamples(
        z
          .number({ message: 'must be a finite number of watts' })
          .min(-MAX_POWER_W, `must be at least -${MAX_POWER_W} W`)
          .max(MAX_POWER_W, `must be at most ${MAX_POWER_W} W`)
          .describe('Instantaneous power in watts; negative for export or generation'),
        EXAMPLE_READING.power_reading,
      ),
      timestamp: withExamples(TimestampSchema.describe('When the device measured the power'), EXAMPLE_READING.timestamp),
      reading_id: withExamples(
        IdSchema.optional().describe(
          "Client-chosen id, kept with the reading and shown in the live tail. It is not what makes a resend safe: a reading is identified by its device's seq, or without one by device and timestamp, and a repeat of either is not counted twice",
        ),
        'device-001-000042',
      ),
      seq: withExamples(
        SeqSchema.optional().describe(
          "The device's sequence number for this reading: strictly increasing, per site_id and device_id, " +
            'in the order the device takes readings. The SDK assigns it.',
        ),
        42,
      ),
    })
    .describe('One power reading from one device'),
  EXAMPLE_READING,
);

export type Reading = z.infer<typeof ReadingSchema>;

/** Limits on how far a reading's timestamp may sit from the server's clock. */
export interface TimestampWindow {
  /** How far into the future a timestamp may be, for device clock skew. */
  maxFutureSkewMs: number;
  /** How old a reading may be when it arrives, for devices that buffered while offline; 0 = any age. */
  maxAgeMs: number;
}

/**
 * The time-window part of validation lives outside the schema because its bounds are
 * server configuration; the schema checks only what every party can check.
 * Returns a message naming the problem, or null when the timestamp is inside the window.
 */
export function checkTimestampWindow(timestamp: string, window: TimestampWindow, nowMs = Date.now()): string | null {
  return checkTimeWindow(timestampMs(timestamp), window, nowMs);
}

/** checkTimestampWindow for a timestamp already parsed (`atMs`, epoch ms; NaN when it did not parse). */
export function checkTimeWindow(atMs: number, window: TimestampWindow, nowMs = Date.now()): string | null {
  if (Number.isNaN(atMs)) return 'is not a valid date-time';
  if (atMs > nowMs + window.maxFutureSkewMs) {
    return `is more than ${Math.round(window.maxFutureSkewMs / 1000)} s in the future`;
  }
  if (window.maxAgeMs > 0 && atMs < nowMs - window.maxAgeMs) {
    return `is more than ${Math.round(window.maxAgeMs / 1000)} s old`;
  }
  return null;
}
