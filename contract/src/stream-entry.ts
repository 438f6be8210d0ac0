import { toIssues, type Issue } from './errors.js';
import { milliwatts } from './milliwatts.js';
import { ReadingSchema, type Reading } from './reading.js';

/**
 * The stream entry is the contract between ingest (which writes it) and process (which reads
 * it). Field names match the HTTP body so that `XRANGE` output reads like the API.
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

export interface DecodedEntry {
  reading: Reading;
  /** Measurement time in epoch milliseconds. */
  timestampMs: number;
  /** Power in integer milliwatts, rounded from the decimal text as sent (milliwatts.ts). */
  powerMw: number;
  /** `power_reading` as the producer wrote it: min and max report the values sent. */
  powerText: string;
}

export type DecodeResult = { ok: true; value: DecodedEntry } | { ok: false; issues: Issue[] };

/** Decodes and re-validates an entry: the stream may hold entries written by older or foreign producers. */
export function decodeReading(fields: readonly string[]): DecodeResult {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) raw[fields[i]!] = fields[i + 1];
  delete raw.received_at;
  const sent = raw.power_reading;
  if (typeof sent === 'string' && sent.trim() !== '') raw.power_reading = Number(sent);
  if (typeof raw.seq === 'string' && /^\d+$/.test(raw.seq)) raw.seq = Number(raw.seq);
  const parsed = ReadingSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: toIssues('body', parsed.error.issues) };
  const reading = parsed.data;
  // Our ingest writes String(number), the shortest text that reads back as the same number;
  // a foreign producer's "1500.50" is kept as sent but reported as the number it means.
  const powerText = typeof sent === 'string' ? sent.trim() : String(reading.power_reading);
  const powerMw = milliwatts(powerText);
  if (!Number.isSafeInteger(powerMw)) {
    return { ok: false, issues: [{ in: 'body', path: 'power_reading', message: 'must be a decimal number of watts' }] };
  }
  return {
    ok: true,
    value: { reading, timestampMs: Date.parse(reading.timestamp), powerMw, powerText },
  };
}
