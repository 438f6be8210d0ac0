import { AsciiText } from './ascii-text.js';

/**
 * A reading's fingerprint, as the dedupe state remembers it (dedupe-format.ts): what a resend
 * must repeat. 24 bits of its power, and with a seq 24 bits of its time in ms (a seq reading's
 * timestamp is content; a timestamp reading's is its identity), each as 4 base64url characters:
 * a changed value goes unnoticed once in 16 million. Part of the stored format.
 */
export const FINGERPRINT_PARTS = ['power_reading', 'timestamp'] as const;
export type FingerprintPart = (typeof FINGERPRINT_PARTS)[number];
const PART_LENGTH = 4;

const BASE64URL = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/**
 * 24 bits of a number's hash: its two 32-bit halves through MurmurHash3's mix. Numbers, not their
 * texts: formatting each one cost ingest more than the rest of the fingerprint (the dedupe rows
 * of docs/performance.md).
 */
function hash24(x: number): number {
  f64[0] = x === 0 ? 0 : x; // -0 is 0 W
  let h = Math.imul(u32[0]! ^ 0x9e3779b9, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ u32[1]!;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 8;
}

function writePart(out: AsciiText, x: number) {
  const h = hash24(x);
  out.char(BASE64URL[(h >>> 18) & 63]!);
  out.char(BASE64URL[(h >>> 12) & 63]!);
  out.char(BASE64URL[(h >>> 6) & 63]!);
  out.char(BASE64URL[h & 63]!);
}

/** Writes a reading's fingerprint (its time in ms is `atMs`) where the port writes its record. */
export function writeFingerprint(out: AsciiText, reading: { power_reading: number; seq?: number | undefined }, atMs: number) {
  writePart(out, reading.power_reading);
  if (reading.seq !== undefined) writePart(out, atMs);
}

const own = new AsciiText();

/** A reading's fingerprint as text (its time in ms is `atMs`): what its record stores. */
export function fingerprintOf(reading: { power_reading: number; seq?: number | undefined }, atMs: number): string {
  writeFingerprint(own.start(2 * PART_LENGTH), reading, atMs);
  return own.take();
}

/** The parts in which two fingerprints of one identity differ. */
export function differingParts(ours: string, stored: string): FingerprintPart[] {
  const parts = FINGERPRINT_PARTS.filter((_, i) => ours.slice(i * PART_LENGTH, (i + 1) * PART_LENGTH) !== stored.slice(i * PART_LENGTH, (i + 1) * PART_LENGTH));
  return parts.length > 0 ? parts : [...FINGERPRINT_PARTS];
}
