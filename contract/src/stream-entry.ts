import type { Issue } from './errors.js';
import { milliwatts } from './milliwatts.js';
import { parseReading } from './plain-reading.js';
import type { Reading } from './reading.js';
import { timestampMs } from './timestamp.js';

/**
 * The stream entry is the contract between ingest (which writes it) and process (which reads
 * it). There are two shapes:
 * - one reading, its fields named as in the HTTP body so that `XRANGE` output reads like the
 *   API: the seed's format, which other tools may read and write;
 * - a batch: the field `readings` holds a JSON array of readings as POST /readings/batch
 *   accepted them. One entry per accepted batch costs Redis one XADD instead of one per reading.
 */
export function encodeReading(reading: Reading, receivedAtMs: number): string[] {
  const fields = [
    'site_id', reading.site_id,
    'device_id', reading.device_id,
    'power_reading', String(reading.power_reading),
    'timestamp', reading.timestamp,
    'received_at', String(receivedAtMs),
  ];
  if (reading.reading_id !== undefined) fields.push('reading_id', reading.reading_id);
  if (reading.seq !== undefined) fields.push('seq', String(reading.seq));
  return fields;
}

/**
 * A reading as JSON, for a batch entry: exactly JSON.stringify's text for any reading
 * ReadingSchema accepted, at ~40 % of its cost. Nothing in a valid reading needs escaping: ids are
 * letters, marks, digits and `._:-`, the timestamp is ASCII, and numbers print as JSON prints them
 * (contract/test/plain-reading.test.ts checks it against JSON.stringify for generated readings).
 */
export function readingJson(r: Reading): string {
  let json = `{"site_id":"${r.site_id}","device_id":"${r.device_id}","power_reading":${r.power_reading},"timestamp":"${r.timestamp}"`;
  if (r.reading_id !== undefined) json += `,"reading_id":"${r.reading_id}"`;
  if (r.seq !== undefined) json += `,"seq":${r.seq}`;
  return `${json}}`;
}

/** The field of a batch entry that holds its readings. */
export const BATCH_FIELD = 'readings';

/** A batch entry's fields; `readingsJson` is the JSON array of the readings (readingJson each). */
export function encodeBatch(readingsJson: string, count: number, receivedAtMs: number): string[] {
  return [BATCH_FIELD, readingsJson, 'count', String(count), 'received_at', String(receivedAtMs)];
}

export interface DecodedReading {
  reading: Reading;
  /** Measurement time in epoch milliseconds. */
  timestampMs: number;
  /** Power in integer milliwatts, rounded from the decimal text as sent (milliwatts.ts). */
  powerMw: number;
  /** `power_reading` as the producer wrote it: min and max report the values sent. */
  powerText: string;
}

export type DecodeResult = { ok: true; value: DecodedReading } | { ok: false; issues: Issue[] };

/** One reading of a decoded entry, by its position in the entry (0 for a single-reading entry). */
export type DecodedItem = DecodeResult & { ord: number; raw: unknown };

/**
 * What an entry holds: its readings, each valid or not, or nothing usable at all (a batch whose
 * JSON does not parse). The stream may hold entries written by older or foreign producers, so
 * every reading is validated again.
 */
export type EntryContent = { ok: true; batch: boolean; items: DecodedItem[] } | { ok: false; issues: Issue[] };

export function decodeEntry(fields: readonly string[]): EntryContent {
  const raw = fieldsObject(fields);
  if (!(BATCH_FIELD in raw)) return { ok: true, batch: false, items: [{ ...decodeReadingObject(raw), ord: 0, raw }] };
  let items: unknown;
  try {
    items = JSON.parse(raw[BATCH_FIELD]!);
  } catch {
    return { ok: false, issues: [{ in: 'body', path: BATCH_FIELD, message: 'is not valid JSON' }] };
  }
  if (!Array.isArray(items)) return { ok: false, issues: [{ in: 'body', path: BATCH_FIELD, message: 'must be a JSON array' }] };
  return { ok: true, batch: true, items: items.map((item, ord) => ({ ...decodeReadingObject(item), ord, raw: item })) };
}

/** Decodes and re-validates a single-reading entry's fields. */
export function decodeReading(fields: readonly string[]): DecodeResult {
  return decodeReadingObject(fieldsObject(fields));
}

/** A flat [field, value, …] list (XRANGE, XREADGROUP) as an object. */
export function fieldsObject(fields: readonly string[]): Record<string, string> {
  const raw: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) raw[fields[i]!] = fields[i + 1]!;
  return raw;
}

/** A reading as stream fields (strings) or as JSON (numbers), validated as the API validates it. */
function decodeReadingObject(input: unknown): DecodeResult {
  if (typeof input !== 'object' || input === null) return { ok: false, issues: [{ in: 'body', path: '', message: 'must be an object' }] };
  const raw: Record<string, unknown> = { ...input };
  delete raw.received_at;
  const sent = raw.power_reading;
  if (typeof sent === 'string' && sent.trim() !== '') raw.power_reading = Number(sent);
  if (typeof raw.seq === 'string' && /^\d+$/.test(raw.seq)) raw.seq = Number(raw.seq);
  const parsed = parseReading(raw);
  if (!parsed.ok) return parsed;
  const { reading } = parsed;
  // Our ingest writes String(number), the shortest text that reads back as the same number;
  // a foreign producer's "1500.50" is kept as sent but reported as the number it means.
  const powerText = typeof sent === 'string' ? sent.trim() : String(reading.power_reading);
  const powerMw = milliwatts(powerText);
  if (!Number.isSafeInteger(powerMw)) {
    return { ok: false, issues: [{ in: 'body', path: 'power_reading', message: 'must be a decimal number of watts' }] };
  }
  return { ok: true, value: { reading, timestampMs: timestampMs(reading.timestamp), powerMw, powerText } };
}
