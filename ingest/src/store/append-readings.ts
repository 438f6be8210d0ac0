import { timestampMs } from '@energy-pipeline/contract';
import { defineLuaPort, type LuaCall, type RedisClient } from '@energy-pipeline/server-kit';

/**
 * The typed port of ingest/lua/append-readings.lua: the one place that knows its KEYS/ARGV, its
 * reply and the dedupe state's format. Call sites pass readings as objects and get one outcome
 * object per reading back.
 *
 * The state (format 3), per identity space (`<site>/<device>` for seq, `<site>/<device>@t` for
 * timestamps), as fields of the shard's dedupe hash. A remembered value v of chunk k (the values
 * in [k * span, (k + 1) * span)) is a record `,<v - k * span>=<fingerprint>`.
 * - the header `<space>`: `newest=<v>;floor=<v>;<n>;<tail>` ({@link parseHeader}): n the records
 *   of the open chunk (the one `newest` falls in), the tail its latest records, up to
 *   {@link TAIL_BYTES};
 * - `<space>#<k>`: chunk k's other records, their count then the records, in arrival order
 *   ({@link parseChunk}).
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

/** A chunk's records from its text: their count, then each record; null when it does not parse. */
export function parseChunk(text: string): ChunkRecord[] | null {
  const m = /^(\d+)((?:,\d+=[\w-]+)*)$/.exec(text);
  if (!m) return null;
  const records = m[2]!.split(',').slice(1).map((r) => {
    const [offset, fingerprint] = r.split('=');
    return { offset: Number(offset), fingerprint: fingerprint! };
  });
  return records.length === Number(m[1]) ? records : null;
}

/** A header's fields and its tail's records; null when it does not parse. */
export function parseHeader(text: string): DedupeHeader | null {
  const m = /^newest=(-?\d+);floor=(-?\d+);(\d+);((?:,\d+=[\w-]+)*)$/.exec(text);
  if (!m) return null;
  const tail = m[4]!.split(',').slice(1).map((r) => {
    const [offset, fingerprint] = r.split('=');
    return { offset: Number(offset), fingerprint: fingerprint! };
  });
  return { newest: Number(m[1]), floor: Number(m[2]), count: Number(m[3]), tail };
}

export const kindOf = (space: string): SpaceKind => (space.endsWith('@t') ? 't' : 'seq');
export const spanOf = (kind: SpaceKind) => (kind === 't' ? TIME_CHUNK_MS : SEQ_CHUNK);
/** The chunk field a value of `space` is remembered in. */
export const chunkField = (space: string, value: number) => `${space}#${Math.floor(value / spanOf(kindOf(space)))}`;

/**
 * What of a reading its fingerprint covers, in order, each as 4 characters: what a resend must
 * repeat. A seq reading's timestamp is content; a timestamp reading's is its identity.
 */
export const FINGERPRINT_PARTS = ['power_reading', 'timestamp'] as const;
export type FingerprintPart = (typeof FINGERPRINT_PARTS)[number];
const PART_LENGTH = 4;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Every pair of base64url characters, by the 12 bits they spell. */
const PAIRS = Array.from({ length: 4096 }, (_, i) => BASE64URL[i >>> 6]! + BASE64URL[i & 63]!);
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/**
 * 24 bits of a number's hash, as 4 base64url characters: its two 32-bit halves through
 * MurmurHash3's mix. Numbers, not their texts: formatting each one cost ingest more than the rest
 * of the fingerprint (the dedupe rows of docs/performance.md).
 */
function hash4(x: number): string {
  f64[0] = x === 0 ? 0 : x; // -0 is 0 W
  let h = Math.imul(u32[0]! ^ 0x9e3779b9, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ u32[1]!;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return PAIRS[(h >>> 20) & 4095]! + PAIRS[(h >>> 8) & 4095]!;
}

/**
 * A reading's fingerprint: its power (and, with a seq, its timestamp in ms). 24 bits a part: a
 * changed value goes unnoticed once in 16 million.
 */
export function fingerprintOf(reading: { power_reading: number; timestamp: string; seq?: number | undefined }): string {
  const power = hash4(reading.power_reading);
  return reading.seq === undefined ? power : power + hash4(timestampMs(reading.timestamp));
}

/** The parts in which two fingerprints of one identity differ. */
export function differingParts(ours: string, stored: string): FingerprintPart[] {
  const parts = FINGERPRINT_PARTS.filter((_, i) => ours.slice(i * PART_LENGTH, (i + 1) * PART_LENGTH) !== stored.slice(i * PART_LENGTH, (i + 1) * PART_LENGTH));
  return parts.length > 0 ? parts : [...FINGERPRINT_PARTS];
}

/** One reading as the script takes it. */
export interface AppendItem {
  /** Its identity space (readingIdentity's field). */
  space: string;
  /** Its seq, or its timestamp in ms. */
  value: number;
  fingerprint: string;
}

export type AppendCall =
  /** One reading, appended as an entry of the seed's format (`entry`: its field/value pairs). */
  | { mode: 'single'; item: AppendItem; entry: readonly (string | number)[] }
  /** Readings appended together as one batch entry; `json` is each reading's JSON. */
  | { mode: 'batch'; items: readonly (AppendItem & { json: string })[]; receivedAtMs: number };

/** What became of one reading. */
export type AppendOutcome =
  | { status: 'stored'; id: string }
  /** The same reading was stored before: nothing appended. */
  | { status: 'repeat' }
  /** Below what is remembered of its space (`floor`): not stored, and it cannot be checked. */
  | { status: 'unverifiable'; floor: number }
  /** A different reading was stored under its identity: not stored. */
  | { status: 'conflict'; differs: FingerprintPart[] }
  /** Its chunk holds `cap` readings already: not stored. */
  | { status: 'full'; cap: number }
  /** The stored state it needs does not parse (`what`): not stored, and it cannot be checked. */
  | { status: 'corrupt'; what: string };

export interface AppendResult {
  /** The entry the stored readings went into; null when none was new. */
  id: string | null;
  outcomes: AppendOutcome[];
}

type Reply = [id: string | null, outcomes: string, details: string[]];

const LUA_DIR = new URL('../../lua/', import.meta.url);

export class AppendReadings {
  private readonly call: LuaCall;

  constructor(
    redis: RedisClient,
    private readonly settings: DedupeSettings,
  ) {
    this.call = defineLuaPort(redis, LUA_DIR, 'append-readings', 2);
  }

  async run(keys: { stream: string; dedupe: string }, call: AppendCall): Promise<AppendResult> {
    const { args, places } = encodeCall(this.settings, call);
    const reply = (await this.call([keys.stream, keys.dedupe], args)) as Reply;
    return decodeReply(reply, call.mode === 'single' ? [call.item] : call.items, places);
  }
}

/** A call's ARGV, and where each reading (in arrival order) is among the runs' readings. */
export interface EncodedCall {
  args: (string | number)[];
  places: Int32Array;
}

/**
 * The script's ARGV for a call (its header spells them out): the readings grouped by space, each
 * space's in its own order, cut into runs of one chunk with distinct values, each run's records
 * written as its chunk stores them. A device sending in order makes one or two runs a call,
 * which the script appends without a look at each reading.
 */
export function encodeCall({ windowMs, seqWindow, maxPerChunk, tailBytes = TAIL_BYTES }: DedupeSettings, call: AppendCall): EncodedCall {
  const items = call.mode === 'single' ? [call.item] : call.items;
  const bySpace = new Map<string, number[]>();
  for (let r = 0; r < items.length; r++) {
    const members = bySpace.get(items[r]!.space);
    if (members) members.push(r);
    else bySpace.set(items[r]!.space, [r]);
  }
  const runs: (string | number)[] = [];
  const places = new Int32Array(items.length);
  let place = 0;
  for (const [space, members] of bySpace) {
    const span = spanOf(kindOf(space));
    for (let i = 0; i < members.length; ) {
      const first = items[members[i]!]!.value;
      const chunk = Math.floor(first / span);
      const base = chunk * span;
      let lo = first;
      let hi = first;
      // Values seen in the run, kept once one is not above the ones before (in order: never).
      let values: Set<number> | null = null;
      const records: string[] = [];
      let j = i;
      for (; j < members.length; j++) {
        const item = items[members[j]!]!;
        const v = item.value;
        if (v - base >= span || v < base) break;
        if (v <= hi && j > i) {
          values ??= new Set(members.slice(i, j).map((m) => items[m]!.value));
          if (values.has(v)) break;
        }
        values?.add(v);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        records.push(`,${v - base}=${item.fingerprint}`);
        places[members[j]!] = place++;
      }
      runs.push(space, j - i, String(lo), String(hi), records.join(''));
      i = j;
    }
  }
  const spaces = [...bySpace.keys()];
  const head = [call.mode, windowMs, seqWindow, TIME_CHUNK_MS, SEQ_CHUNK, maxPerChunk, tailBytes, spaces.length, runs.length / 5, ...spaces, ...runs];
  if (call.mode === 'single') return { args: [...head, ...call.entry], places };
  return { args: [...head, call.receivedAtMs, batchArray(call.items), placesText(places)], places };
}

/**
 * The batch's readings as one JSON array, in arrival order. The script finds where each ends by
 * its first `}`: a reading's JSON is a flat object, and a `}` inside one of its strings (none of
 * readingJson's fields allows one) is written as the escape `\u007d`, which parses the same.
 */
function batchArray(items: readonly { json: string }[]): string {
  const parts = new Array<string>(items.length);
  for (let r = 0; r < items.length; r++) {
    const json = items[r]!.json;
    parts[r] = json.indexOf('}') === json.length - 1 ? json : `${json.slice(0, -1).replaceAll('}', '\\u007d')}}`;
  }
  return `[${parts.join(',')}]`;
}

/** Each reading's place among the runs' readings (from 1), in arrival order; '' when they are the same. */
function placesText(places: Int32Array): string {
  let same = true;
  for (let r = 0; r < places.length && same; r++) same = places[r] === r;
  return same ? '' : Array.from(places, (p) => p + 1).join(',');
}

/** The script's reply as outcome objects, one per item, in arrival order. */
export function decodeReply([id, digits, details]: Reply, items: readonly AppendItem[], places: Int32Array): AppendResult {
  const detail = new Map<number, string>();
  for (let i = 0; i < details.length; i += 2) detail.set(Number(details[i]) - 1, details[i + 1]!);
  // One object per plain outcome, shared by the readings that had it (they are read, never changed).
  const stored: AppendOutcome = { status: 'stored', id: id! };
  const repeat: AppendOutcome = { status: 'repeat' };
  const outcomes: AppendOutcome[] = new Array(items.length);
  for (let r = 0; r < items.length; r++) {
    const place = places[r]!;
    const digit = digits[place];
    if (digit === '0') outcomes[r] = stored;
    else if (digit === '1') outcomes[r] = repeat;
    else {
      const text = detail.get(place) ?? '';
      if (digit === '2') outcomes[r] = { status: 'unverifiable', floor: Number(text) };
      else if (digit === '3') outcomes[r] = { status: 'conflict', differs: differingParts(items[r]!.fingerprint, text) };
      else if (digit === '4') outcomes[r] = { status: 'full', cap: Number(text) };
      else outcomes[r] = { status: 'corrupt', what: text };
    }
  }
  return { id, outcomes };
}
