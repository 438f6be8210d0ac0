/**
 * The dedupe state's stored format (format 3), as ingest/lua/append-readings.lua keeps it and
 * its port (append-readings.ts) encodes for it. Per identity space (`<site>/<device>` for seq,
 * `<site>/<device>@t` for timestamps; identitySpace in server-kit), as fields of the shard's
 * dedupe hash. A remembered value v of chunk k (the values in [k * span, (k + 1) * span)) is a
 * record `,<v - k * span>=<fingerprint>` (fingerprint.ts).
 * - the header `<space>`: `newest=<v>;floor=<v>;<n>;<tail>` ({@link parseHeader}): n the records
 *   of the open chunk (the one `newest` falls in), the tail its latest records, up to
 *   {@link TAIL_BYTES};
 * - `<space>#<k>`: chunk k's other records, their count then the records, in arrival order
 *   ({@link parseChunk}).
 * Format 2 and the gap lists before it are converted once by migrate-dedupe.lua.
 */

/** Span of a timestamp chunk, in ms. Part of the stored format: changing it needs a migration. */
export const TIME_CHUNK_MS = 300_000;
/** Span of a seq chunk, in numbers (and so its most records). Part of the stored format. */
export const SEQ_CHUNK = 64;
/**
 * Most bytes of records a header's tail keeps before they move into their chunk's field: the
 * bytes a reading above its device's newest makes Redis's Lua hash (twice) against how often a
 * device's chunk is read and rewritten (the dedupe rows of docs/performance.md). Not part of the
 * format: any tail is read.
 */
export const TAIL_BYTES = 256;

export interface DedupeSettings {
  /** How far below its newest timestamp a device's readings are remembered, in ms. */
  windowMs: number;
  /** How far below its newest seq a device's numbered readings are remembered. */
  seqWindow: number;
  /** Most readings without seq remembered per device per {@link TIME_CHUNK_MS}. */
  maxPerChunk: number;
  /** Most bytes of a header's tail; {@link TAIL_BYTES} when absent (tests shrink it to move tails often). */
  tailBytes?: number;
}

export type SpaceKind = 't' | 'seq';

/** A remembered reading: its value's offset in its chunk, and its fingerprint. */
export interface ChunkRecord {
  offset: number;
  fingerprint: string;
}

/**
 * What the header of a space says: the newest value stored, the lowest one still remembered, the
 * records of the chunk of `newest` in all, and the latest of them (the tail).
 */
export interface DedupeHeader {
  newest: number;
  floor: number;
  count: number;
  tail: readonly ChunkRecord[];
}

const records = (text: string): ChunkRecord[] =>
  text
    .split(',')
    .slice(1)
    .map((r) => {
      const [offset, fingerprint] = r.split('=');
      return { offset: Number(offset), fingerprint: fingerprint! };
    });

/** A chunk's records from its text: their count, then each record; null when it does not parse. */
export function parseChunk(text: string): ChunkRecord[] | null {
  const m = /^(\d+)((?:,\d+=[\w-]+)*)$/.exec(text);
  if (!m) return null;
  const parsed = records(m[2]!);
  return parsed.length === Number(m[1]) ? parsed : null;
}

/** A header's fields and its tail's records; null when it does not parse. */
export function parseHeader(text: string): DedupeHeader | null {
  const m = /^newest=(-?\d+);floor=(-?\d+);(\d+);((?:,\d+=[\w-]+)*)$/.exec(text);
  if (!m) return null;
  return { newest: Number(m[1]), floor: Number(m[2]), count: Number(m[3]), tail: records(m[4]!) };
}

export const kindOf = (space: string): SpaceKind => (space.endsWith('@t') ? 't' : 'seq');
export const spanOf = (kind: SpaceKind) => (kind === 't' ? TIME_CHUNK_MS : SEQ_CHUNK);
/** The chunk field a value of `space` is remembered in. */
export const chunkField = (space: string, value: number) => `${space}#${Math.floor(value / spanOf(kindOf(space)))}`;
