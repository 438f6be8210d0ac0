import { toIssues, type Issue } from './errors.js';
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
  /** Power in integer milliwatts: sums of integers do not depend on the order they are added in. */
  powerMw: number;
}

export type DecodeResult = { ok: true; value: DecodedEntry } | { ok: false; issues: Issue[] };

/** Decodes and re-validates an entry: the stream may hold entries written by older or foreign producers. */
export function decodeReading(fields: readonly string[]): DecodeResult {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) raw[fields[i]!] = fields[i + 1];
  delete raw.received_at;
  if (typeof raw.power_reading === 'string' && raw.power_reading.trim() !== '') {
    raw.power_reading = Number(raw.power_reading);
  }
  if (typeof raw.seq === 'string' && /^\d+$/.test(raw.seq)) raw.seq = Number(raw.seq);
  const parsed = ReadingSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: toIssues('body', parsed.error.issues) };
  const reading = parsed.data;
  return {
    ok: true,
    value: {
      reading,
      timestampMs: Date.parse(reading.timestamp),
      powerMw: Math.round(reading.power_reading * 1000),
    },
  };
}
