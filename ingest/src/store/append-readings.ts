import { encodeReading, readingJson, type Reading } from '@energy-pipeline/contract';
import { defineLuaPort, identitySpace, type LuaCall, type RedisClient } from '@energy-pipeline/server-kit';
import { AsciiText } from './ascii-text.js';
import { type DedupeSettings, SEQ_CHUNK, spanOf, TAIL_BYTES, TIME_CHUNK_MS } from './dedupe-format.js';
import { differingParts, fingerprintOf, type FingerprintPart, writeFingerprint } from './fingerprint.js';

/**
 * The typed port of ingest/lua/append-readings.lua: the one place that knows its KEYS/ARGV and its
 * reply. Call sites pass readings, each with its time in ms (parsed once, by the window check),
 * and get one outcome object per reading back. The port derives what the script takes: each
 * reading's identity space and value (identitySpace), its fingerprint (fingerprint.ts) and its
 * JSON; the state they are remembered in is dedupe-format.ts's.
 */

/** A reading and its timestamp in epoch ms. */
export interface TimedReading {
  reading: Reading;
  atMs: number;
}

export type AppendCall =
  /** One reading, appended as an entry of the seed's format. */
  | { mode: 'single'; reading: TimedReading; receivedAtMs: number }
  /** Readings appended together as one batch entry, in arrival order. */
  | { mode: 'batch'; readings: readonly TimedReading[]; receivedAtMs: number };

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
    return decodeReply(reply, call.mode === 'single' ? [call.reading] : call.readings, places);
  }
}

/** A call's ARGV, and where each reading (in arrival order) is among the runs' readings. */
export interface EncodedCall {
  args: (string | number)[];
  places: Int32Array;
}

/** The readings of one identity space in a call, by their index in it, in arrival order. */
interface SpaceReadings {
  space: string;
  site_id: string;
  numbered: boolean;
  members: number[];
}

/** Most characters of one record: `,` an offset below 300000, `=`, two fingerprint parts. */
const RECORD_MOST = 16;
const COMMA = 44;
const EQUALS = 61;
const text = new AsciiText();

/** The value a reading is remembered by in its space: its seq, or its time in ms. */
const valueAt = (t: TimedReading, numbered: boolean) => (numbered ? t.reading.seq! : t.atMs);

/**
 * The readings of a call grouped by identity space, the spaces in order of first appearance.
 * Found by device id, then site: the ids come from the request as they are, where a space's
 * name made per reading was a new string to build and hash (issue 19's ingest pass).
 */
function bySpace(readings: readonly TimedReading[]): SpaceReadings[] {
  const byDevice = new Map<string, SpaceReadings[]>();
  const spaces: SpaceReadings[] = [];
  for (let r = 0; r < readings.length; r++) {
    const { site_id, device_id, seq } = readings[r]!.reading;
    const numbered = seq !== undefined;
    let same = byDevice.get(device_id);
    if (!same) {
      same = [];
      byDevice.set(device_id, same);
    }
    let group: SpaceReadings | undefined;
    for (const g of same) if (g.numbered === numbered && g.site_id === site_id) group = g;
    if (!group) {
      group = { site_id, numbered, space: identitySpace(site_id, device_id, numbered), members: [] };
      same.push(group);
      spaces.push(group);
    }
    group.members.push(r);
  }
  return spaces;
}

/**
 * The script's ARGV for a call (its header spells them out): the readings grouped by space, each
 * space's in its own order, cut into runs of one chunk with distinct values, each run's records
 * written as its chunk stores them. A device sending in order makes one or two runs a call,
 * which the script appends without a look at each reading.
 */
export function encodeCall({ windowMs, seqWindow, maxPerChunk, tailBytes = TAIL_BYTES }: DedupeSettings, call: AppendCall): EncodedCall {
  const readings = call.mode === 'single' ? [call.reading] : call.readings;
  const spaces = bySpace(readings);
  const runs: (string | number)[] = [];
  // Where each run's records end in `text`: taken as one string, then cut (a string per run
  // from the buffer cost a single reading more than the rest of its encoding).
  const ends: number[] = [];
  const places = new Int32Array(readings.length);
  let place = 0;
  text.start(readings.length * RECORD_MOST);
  for (const { space, numbered, members } of spaces) {
    const span = spanOf(numbered ? 'seq' : 't');
    for (let i = 0; i < members.length; ) {
      const first = valueAt(readings[members[i]!]!, numbered);
      const base = Math.floor(first / span) * span;
      let lo = first;
      let hi = first;
      // Values seen in the run, kept once one is not above the ones before (in order: never).
      let values: Set<number> | null = null;
      let j = i;
      for (; j < members.length; j++) {
        const r = members[j]!;
        const v = valueAt(readings[r]!, numbered);
        if (v - base >= span || v < base) break;
        if (v <= hi && j > i) {
          values ??= new Set(members.slice(i, j).map((m) => valueAt(readings[m]!, numbered)));
          if (values.has(v)) break;
        }
        values?.add(v);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        // The record, `,<offset>=<fingerprint>`.
        text.char(COMMA);
        text.int(v - base);
        text.char(EQUALS);
        writeFingerprint(text, readings[r]!.reading, readings[r]!.atMs);
        places[r] = place++;
      }
      runs.push(space, j - i, String(lo), String(hi), '');
      ends.push(text.written);
      i = j;
    }
  }
  const records = text.take();
  let from = 0;
  for (let k = 0; k < ends.length; k++) {
    runs[5 * k + 4] = records.slice(from, ends[k]);
    from = ends[k]!;
  }
  const head = [call.mode, windowMs, seqWindow, TIME_CHUNK_MS, SEQ_CHUNK, maxPerChunk, tailBytes, spaces.length, runs.length / 5, ...spaces.map((s) => s.space), ...runs];
  if (call.mode === 'single') return { args: [...head, ...encodeReading(call.reading.reading, call.receivedAtMs)], places };
  return { args: [...head, call.receivedAtMs, batchArray(call.readings), placesText(places)], places };
}

/**
 * The batch's readings as one JSON array, in arrival order. The script finds where each ends by
 * its first `}`: readingJson writes a flat object whose strings are ids (ID_PATTERN: letters,
 * marks, digits, `.`, `_`, `:`, `-`) and a date-time, none of which holds a `}` (or a `"`,
 * which readingJson does not escape either; contract/test/plain-reading.test.ts).
 */
function batchArray(readings: readonly TimedReading[]): string {
  const parts = new Array<string>(readings.length);
  for (let r = 0; r < readings.length; r++) parts[r] = readingJson(readings[r]!.reading);
  return `[${parts.join(',')}]`;
}

/** Each reading's place among the runs' readings (from 1), in arrival order; '' when they are the same. */
function placesText(places: Int32Array): string {
  let same = true;
  for (let r = 0; r < places.length && same; r++) same = places[r] === r;
  if (same) return '';
  text.start(places.length * 8);
  for (let r = 0; r < places.length; r++) {
    if (r > 0) text.char(COMMA);
    text.int(places[r]! + 1);
  }
  return text.take();
}

/** The script's reply as outcome objects, one per reading, in arrival order. */
export function decodeReply([id, digits, details]: Reply, readings: readonly TimedReading[], places: Int32Array): AppendResult {
  const detail = new Map<number, string>();
  for (let i = 0; i < details.length; i += 2) detail.set(Number(details[i]) - 1, details[i + 1]!);
  // One object per plain outcome, shared by the readings that had it (they are read, never changed).
  const stored: AppendOutcome = { status: 'stored', id: id! };
  const repeat: AppendOutcome = { status: 'repeat' };
  const outcomes: AppendOutcome[] = new Array(readings.length);
  for (let r = 0; r < readings.length; r++) {
    const place = places[r]!;
    const digit = digits[place];
    if (digit === '0') outcomes[r] = stored;
    else if (digit === '1') outcomes[r] = repeat;
    else {
      const found = detail.get(place) ?? '';
      if (digit === '2') outcomes[r] = { status: 'unverifiable', floor: Number(found) };
      else if (digit === '3') {
        const { reading, atMs } = readings[r]!;
        outcomes[r] = { status: 'conflict', differs: differingParts(fingerprintOf(reading, atMs), found) };
      } else if (digit === '4') outcomes[r] = { status: 'full', cap: Number(found) };
      else outcomes[r] = { status: 'corrupt', what: found };
    }
  }
  return { id, outcomes };
}
