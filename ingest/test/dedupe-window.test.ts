import { describe, expect, it } from 'vitest';
import { readingJson } from '@energy-pipeline/contract';
import { AppendReadings, type TimedReading } from '../src/store/append-readings.js';
import { type DedupeSettings, SEQ_CHUNK, TAIL_BYTES, TIME_CHUNK_MS, chunkField, kindOf, parseChunk, parseHeader, spanOf } from '../src/store/dedupe-format.js';
import { fingerprintOf } from '../src/store/fingerprint.js';
import { usePrivateRedis } from './helpers.js';

/**
 * The dedupe window of lua/append-readings.lua against a model of what it promises, written as
 * plainly as it can be: per identity space, a map of the remembered values to which reading
 * (which variant: its power) was stored there,
 * the newest value and the floor. A value below the floor is unverifiable; a remembered one is a
 * repeat (same fingerprint) or a conflict; any other is new, unless its chunk already holds `cap`
 * values. Storing a value above the newest raises the floor to newest - window and forgets what
 * is below it. Random devices' readings, in random order, go through both in batches of random
 * size, and every outcome must agree.
 */
class Space {
  newest: number | null = null;
  floor = Number.NEGATIVE_INFINITY;
  readonly remembered = new Map<number, number>();

  constructor(
    private readonly window: number,
    private readonly span: number,
    private readonly cap: number,
  ) {}

  take(v: number, variant: number): string {
    if (this.newest !== null && v < this.floor) return 'unverifiable';
    const was = this.remembered.get(v);
    if (was !== undefined) return was === variant ? 'repeat' : 'conflict';
    const chunk = Math.floor(v / this.span);
    // The chunk's records, the ones below the floor included (the script keeps a chunk whole).
    const inChunk = [...this.remembered.keys()].filter((u) => Math.floor(u / this.span) === chunk).length;
    if (inChunk >= this.cap) return 'full';
    this.remembered.set(v, variant);
    if (this.newest === null || v > this.newest) {
      this.newest = v;
      this.floor = Math.max(this.floor, v - this.window);
      // Forget whole chunks below the floor's.
      const keep = Math.floor(this.floor / this.span);
      for (const u of this.remembered.keys()) if (Math.floor(u / this.span) < keep) this.remembered.delete(u);
    }
    return 'stored';
  }
}

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

const KEYS = { stream: 'ep:{w}:readings', dedupe: 'ep:{w}:dedupe' };
const r = usePrivateRedis();

/** A reading as the model speaks of it: a value of a space, and which of a few readings is sent there. */
interface Item {
  space: string;
  value: number;
  variant?: number;
}

/** A seq reading's time (part of its fingerprint): the same for all, so that its power alone tells variants apart. */
const SEQ_TIME = Date.parse('2026-11-27T00:00:00Z');

/** The reading the port is given for an item: its device from the space, variant v sending 100 + v W. */
function timed({ space, value, variant = 0 }: Item): TimedReading {
  const [site_id, device] = space.split('/') as [string, string];
  const numbered = kindOf(space) === 'seq';
  const atMs = numbered ? SEQ_TIME : value;
  const reading = { site_id, device_id: device.replace(/@t$/, ''), power_reading: 100 + variant, timestamp: new Date(atMs).toISOString() };
  return { reading: numbered ? { ...reading, seq: value } : reading, atMs };
}

/** What variant 0 of a timestamp reading leaves in its record. */
const FP = fingerprintOf({ power_reading: 100 }, 0);

async function append(settings: DedupeSettings, items: Item[]): Promise<string[]> {
  const script = new AppendReadings(r.client, settings);
  const { outcomes } = await script.run(KEYS, { mode: 'batch', receivedAtMs: Date.now(), readings: items.map(timed) });
  return outcomes.map((o) => o.status);
}

/** Mostly the first reading at a value; now and then another. */
const someVariant = (rand: () => number) => Math.floor(rand() * (rand() < 0.9 ? 1 : 3));

describe('the dedupe window (append-readings.lua) against its model', () => {
  // `behind`: how often a reading is below its device's newest; the others are just ahead of it,
  // as a device sending in order (the script takes such runs whole, without a look per reading).
  // `again`: how often a reading repeats the one before it in the same call.
  const cases: { name: string; settings: DedupeSettings; step: number; spread: number; behind: number; again: number }[] = [
    // Timestamps 10 s apart, a window of 10 minutes, up to 12 per chunk: every rule comes up. A
    // tail of 30 bytes (two or three records) moves into its chunk's field every few calls.
    { name: 'timestamps, in random order', settings: { windowMs: 600_000, seqWindow: 256, maxPerChunk: 12, tailBytes: 30 }, step: 10_000, spread: 120, behind: 0.7, again: 0 },
    // Seq numbers, a window of 256: any order within it, the floor below.
    { name: 'seq, in random order', settings: { windowMs: 600_000, seqWindow: 256, maxPerChunk: 12 }, step: 1, spread: 400, behind: 0.7, again: 0 },
    // Mostly in order, with copies in the same call: runs taken whole, and ones that are not.
    { name: 'timestamps, mostly in order', settings: { windowMs: 600_000, seqWindow: 256, maxPerChunk: 12, tailBytes: 30 }, step: 10_000, spread: 30, behind: 0.1, again: 0.1 },
    { name: 'seq, mostly in order', settings: { windowMs: 600_000, seqWindow: 256, maxPerChunk: 12 }, step: 1, spread: 100, behind: 0.1, again: 0.1 },
    // A window shorter than a chunk (DEDUPE_WINDOW_S allows 60 s): a run's own readings can
    // raise the floor above each other.
    { name: 'timestamps, a window shorter than a chunk', settings: { windowMs: 60_000, seqWindow: 256, maxPerChunk: 20, tailBytes: 60 }, step: 1_000, spread: 150, behind: 0.3, again: 0.05 },
  ];
  for (const { name, settings, step, spread, behind, again } of cases) {
    it(`agrees with the model on every outcome: ${name}`, async () => {
      const rand = random(step + spread);
      const seq = step === 1;
      const devices = Array.from({ length: 5 }, (_, i) => `s/d${i}${seq ? '' : '@t'}`);
      const models = new Map(
        devices.map((d) => [d, new Space(seq ? settings.seqWindow : settings.windowMs, seq ? SEQ_CHUNK : TIME_CHUNK_MS, seq ? SEQ_CHUNK : settings.maxPerChunk)]),
      );
      const base = seq ? 1_000 : Date.parse('2026-11-27T00:00:00Z');
      const kinds = new Set<string>();
      for (let call = 0; call < 200; call++) {
        const batch: Item[] = [];
        // Where each device's readings in this call have got to, ahead of its newest.
        const ahead = new Map<string, number>();
        for (let i = 1 + Math.floor(rand() * 20); i > 0; i--) {
          const previous = batch.at(-1);
          if (previous && rand() < again) {
            batch.push({ ...previous, variant: someVariant(rand) });
            continue;
          }
          const space = devices[Math.floor(rand() * devices.length)]!;
          const m = models.get(space)!;
          // Around the newest: just behind or ahead of it, sometimes far behind.
          const around = Math.max(m.newest ?? base, ahead.get(space) ?? Number.NEGATIVE_INFINITY);
          const jitter = seq ? 0 : Math.floor(rand() * 3) * 1000;
          const offset = rand() < behind ? -Math.floor(rand() * spread * 0.7) * step - jitter : (1 + Math.floor(rand() * spread * 0.3)) * step + jitter;
          const value = rand() < 0.05 ? around - 3 * spread * step : around + offset;
          ahead.set(space, Math.max(value, ahead.get(space) ?? value));
          batch.push({ space, value, variant: someVariant(rand) });
        }
        const expected = batch.map((r) => models.get(r.space)!.take(r.value, r.variant ?? 0));
        expect(await append(settings, batch), `call ${call}: ${JSON.stringify(batch)}`).toEqual(expected);
        for (const outcome of expected) kinds.add(outcome);
      }
      const all = ['conflict', 'repeat', 'stored', 'unverifiable'];
      expect([...kinds].sort()).toEqual(seq ? all : [...all, 'full'].sort());
      // And the state is what the model remembers, nothing more, nothing less: per chunk, its
      // field's records and, for the chunk of the newest value, the header's tail and count.
      const fields = await r.redis.client.hgetall(KEYS.dedupe);
      for (const [space, m] of models) {
        const header = parseHeader(fields[space]!)!;
        expect({ newest: header.newest, floor: header.floor }).toEqual({ newest: m.newest, floor: m.floor });
        const remembered = new Map<string, number[]>();
        for (const v of m.remembered.keys()) remembered.set(chunkField(space, v), [...(remembered.get(chunkField(space, v)) ?? []), v % spanOf(kindOf(space))]);
        const open = chunkField(space, m.newest!);
        const stored = new Map<string, number[]>([[open, header.tail.map((r) => r.offset)]]);
        for (const [field, text] of Object.entries(fields)) {
          if (field.startsWith(`${space}#`)) stored.set(field, [...(stored.get(field) ?? []), ...parseChunk(text)!.map((r) => r.offset)]);
        }
        const sorted = (map: Map<string, number[]>) => new Map([...map].filter(([, offsets]) => offsets.length > 0).map(([f, offsets]) => [f, [...offsets].sort((a, b) => a - b)]));
        expect(sorted(stored)).toEqual(sorted(remembered));
        expect(header.count).toBe(remembered.get(open)?.length ?? 0);
        expect(fields[space]!.length - fields[space]!.lastIndexOf(';') - 1).toBeLessThanOrEqual(settings.tailBytes ?? TAIL_BYTES);
      }
    });
  }

  it('stores the new readings of a mixed batch in arrival order, their JSON intact', async () => {
    const settings = { windowMs: 3_600_000, seqWindow: 1024, maxPerChunk: 600 };
    const t = Date.parse('2026-11-27T00:00:00Z');
    const script = new AppendReadings(r.client, settings);
    const stream = 'ep:{w}:mixed';
    const keys = { stream, dedupe: KEYS.dedupe };
    // Ids of any script; the script cuts the array at each reading's first `}`.
    const item = (device: number, k: number) => timed({ space: `Zähler-東京/d${device}:x@t`, value: t + k * 1_000 });
    await script.run(keys, { mode: 'batch', receivedAtMs: t, readings: [item(0, 1), item(1, 1)] });
    // Devices interleaved, so the runs' order is not the arrival order; the repeats are mixed in.
    const readings = [item(0, 2), item(1, 1), item(1, 2), item(0, 3), item(0, 1), item(1, 3)];
    const { outcomes } = await script.run(keys, { mode: 'batch', receivedAtMs: t, readings });
    expect(outcomes.map((o) => o.status)).toEqual(['stored', 'repeat', 'stored', 'stored', 'repeat', 'stored']);
    const [, fields] = (await r.redis.client.xrange(stream, '-', '+')).at(-1)!;
    const stored = JSON.parse(fields[fields.indexOf('readings') + 1]!) as unknown[];
    expect(stored).toEqual([0, 2, 3, 5].map((i) => JSON.parse(readingJson(readings[i]!.reading))));
    expect(fields[fields.indexOf('count') + 1]).toBe('4');
  });

  it('answers a corrupt header or chunk per reading, and leaves the other devices alone', async () => {
    const settings = { windowMs: 3_600_000, seqWindow: 1024, maxPerChunk: 600 };
    const t = Date.parse('2026-11-27T00:00:00Z');
    // s/badchunk@t's chunk of t is closed once a reading 10 minutes later opens another.
    await append(settings, [
      { space: 's/bad@t', value: t },
      { space: 's/badchunk@t', value: t },
      { space: 's/badchunk@t', value: t + 600_000 },
    ]);
    for (const text of [';;;;', '1e400;;1;1;', 'newest=1;floor=99;0', `newest=${t};floor=0;x`, `newest=${t};floor=0;`, `newest=${t};floor=0;5x,1=AAAA`, `newest=${t};floor=0`, `newest=${t};floor=0;1;x`, `newest=${t};floor=0;1,0=AAAA`, 'garbage']) {
      await r.redis.client.hset(KEYS.dedupe, 's/bad@t', text);
      // A chunk is checked where it is read: its count, its first record, the record looked up.
      await r.redis.client.hset(KEYS.dedupe, chunkField('s/badchunk@t', t), text.startsWith('newest') ? ',0=AAAA' : '1;0=AAAA');
      const before = await r.redis.client.xlen(KEYS.stream);
      const out = await append(settings, [
        { space: 's/bad@t', value: t },
        { space: 's/good@t', value: t + 1_000 * before },
        { space: 's/bad@t', value: t + 5_000 },
        { space: 's/badchunk@t', value: t + 1_000 },
        // In a later chunk: nothing to look up, but the header it would rewrite is unreadable.
        { space: 's/bad@t', value: t + 600_000 },
      ]);
      expect(out, text).toEqual(['corrupt', 'stored', 'corrupt', 'corrupt', 'corrupt']);
      // Nothing reset: the bad value is still there for an operator to see, and not overwritten.
      expect(await r.redis.client.hget(KEYS.dedupe, 's/bad@t')).toBe(text);
      expect(await r.redis.client.xlen(KEYS.stream)).toBe(before + 1);
    }
  });

  it("answers a bad field of the open chunk for its space's readings, once its tail must move there", async () => {
    const settings = { windowMs: 3_600_000, seqWindow: 1024, maxPerChunk: 600 };
    const t = Date.parse('2026-11-27T00:00:00Z');
    await append(settings, [{ space: 's/o@t', value: t }]);
    await r.redis.client.hset(KEYS.dedupe, chunkField('s/o@t', t), 'garbage');
    // In order and within the tail: the field is not needed.
    expect(await append(settings, [{ space: 's/o@t', value: t + 1_000 }])).toEqual(['stored']);
    // A look below the newest, or a tail that would move: the field is needed.
    const many = Array.from({ length: 40 }, (_, i) => ({ space: 's/o@t', value: t + 2_000 + i * 1_000 }));
    expect(await append(settings, [{ space: 's/o@t', value: t }, ...many, { space: 's/p@t', value: t }])).toEqual([
      ...Array.from({ length: 41 }, () => 'corrupt'),
      'stored',
    ]);
    const { outcomes } = await new AppendReadings(r.client, settings).run(KEYS, { mode: 'batch', receivedAtMs: t, readings: [timed(many[0]!)] });
    expect(outcomes).toEqual([{ status: 'stored', id: expect.any(String) }]);
    expect(await r.redis.client.hget(KEYS.dedupe, chunkField('s/o@t', t))).toBe('garbage');
    const [corrupt] = (await new AppendReadings(r.client, settings).run(KEYS, { mode: 'batch', receivedAtMs: t, readings: [timed({ space: 's/o@t', value: t })] })).outcomes;
    expect(corrupt).toEqual({ status: 'corrupt', what: `chunk ${chunkField('s/o@t', t)}` });
  });

  it('answers a bad record where it is looked up, and stores past a good one', async () => {
    const settings = { windowMs: 3_600_000, seqWindow: 1024, maxPerChunk: 600 };
    const t = Date.parse('2026-11-27T00:00:00Z');
    await append(settings, [{ space: 's/r@t', value: t + 600_000 }]);
    await r.redis.client.hset(KEYS.dedupe, chunkField('s/r@t', t), `2,0=${FP},1000=A A`);
    expect(await append(settings, [1_000, 0, 2_000].map((d) => ({ space: 's/r@t', value: t + d })))).toEqual(['corrupt', 'repeat', 'stored']);
  });

  it('keeps a space within window / span + 1 chunks of at most the cap, whatever is sent', async () => {
    const settings = { windowMs: 3_600_000, seqWindow: 1024, maxPerChunk: 600 };
    const t = Date.parse('2026-11-27T00:00:00Z');
    // One high reading, then everything below it in reverse, then a jump a day ahead.
    await append(settings, [{ space: 's/x@t', value: t + 3_600_000 }]);
    for (let from = 0; from < 3_600_000; from += 1_000 * 500) {
      const items = Array.from({ length: 500 }, (_, i) => ({ space: 's/x@t', value: t + 3_600_000 - from - i * 1_000 - 1 }));
      await append(settings, items);
    }
    const chunks = (await r.redis.client.hkeys(KEYS.dedupe)).filter((f) => f.startsWith('s/x@t#'));
    expect(chunks.length).toBeLessThanOrEqual(3_600_000 / TIME_CHUNK_MS + 1);
    for (const f of chunks) expect((await r.redis.client.hget(KEYS.dedupe, f))!.split('=').length - 1).toBeLessThanOrEqual(600);
    await append(settings, [{ space: 's/x@t', value: t + 86_400_000 }]);
    // Everything forgotten but the new reading, in the header's open chunk.
    expect((await r.redis.client.hkeys(KEYS.dedupe)).filter((f) => f.startsWith('s/x@t'))).toEqual(['s/x@t']);
    expect(parseHeader((await r.redis.client.hget(KEYS.dedupe, 's/x@t'))!)).toMatchObject({ count: 1, tail: [{ offset: (t + 86_400_000) % TIME_CHUNK_MS }] });
    expect(kindOf('s/x@t')).toBe('t');
  });
});
