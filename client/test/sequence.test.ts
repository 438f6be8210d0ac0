import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnergyPipelineClient, type IdentifiedReading, type SequenceStore } from '../src/index.js';
import { openSpool } from '../src/node/index.js';
import { SeqLog } from '../src/node/seq-log.js';
import { Sequencer } from '../src/sequence.js';
import { acceptAll, type FakeServer, quickRetry, type RecordedRequest, reading, startFakeServer, unavailable } from './helpers.js';

/** A store in memory that records each reservation. */
function memoryStore(initial: [string, string, number][] = [], block = 10) {
  const marks = new Map(initial.map(([s, d, m]) => [`${s}/${d}`, [s, d, m] as const]));
  const reservations: string[] = [];
  const store: SequenceStore = {
    marks: () => marks.values(),
    reserve(site, device, from) {
      reservations.push(`${site}/${device}@${from}`);
      marks.set(`${site}/${device}`, [site, device, from + block]);
      return from + block;
    },
  };
  return { store, reservations, marks };
}

describe('Sequencer', () => {
  it('without a store, starts each device at the clock in microseconds and counts up per device', () => {
    let now = 1_700_000_000_123_000;
    const seq = new Sequencer(() => now);
    expect([seq.next('s', 'a'), seq.next('s', 'a'), seq.next('s', 'b')]).toEqual([1_700_000_000_123_000, 1_700_000_000_123_001, 1_700_000_000_123_000]);
    now += 5_000;
    expect(seq.next('s', 'b')).toBe(1_700_000_000_123_001); // the clock sets only the start
    expect(seq.next('t', 'a')).toBe(1_700_000_000_128_000); // another site, another device
  });

  it('with a store, reserves a block before handing out its first number, and the next block when it is used up', () => {
    const { store, reservations } = memoryStore([['s', 'a', 500]]);
    const seq = new Sequencer(() => 1_000_000);
    seq.attach(store);
    expect(Array.from({ length: 12 }, () => seq.next('s', 'a'))).toEqual(Array.from({ length: 12 }, (_, i) => 500 + i));
    expect(reservations).toEqual(['s/a@500', 's/a@510']);
    expect(seq.next('s', 'new')).toBe(1_000_000); // a device the store has not seen starts at the clock
  });

  it('restarts at the reserved mark, skipping the rest of the block but never reusing a number', () => {
    const { store, marks } = memoryStore();
    const first = new Sequencer(() => 2_000_000);
    first.attach(store);
    const used = [first.next('s', 'a'), first.next('s', 'a'), first.next('s', 'a')];
    const second = new Sequencer(() => 1_000_000); // the clock went back meanwhile
    second.attach({ marks: () => marks.values(), reserve: store.reserve });
    expect(second.next('s', 'a')).toBe(2_000_010);
    expect(used).toEqual([2_000_000, 2_000_001, 2_000_002]);
  });

  it('attached late, continues above what it handed out in memory; a second store is refused', () => {
    const seq = new Sequencer(() => 3_000_000);
    const early = [seq.next('s', 'a'), seq.next('s', 'a')];
    const { store, reservations } = memoryStore([['s', 'a', 7]]);
    seq.attach(store);
    expect(seq.next('s', 'a')).toBe(early[1]! + 1);
    expect(reservations).toEqual([`s/a@${early[1]! + 1}`]);
    expect(() => seq.attach(memoryStore().store)).toThrow(/another spool/);
    expect(() => seq.attach(store)).not.toThrow();
  });
});

describe('SeqLog, the spool reservations', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ep-seq-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the highest mark per device across reopenings, ignores a torn line and compacts on open', () => {
    const log = new SeqLog(dir, 100);
    expect([log.reserve('s', 'a', 0), log.reserve('s', 'a', 100), log.reserve('s', 'b', 5)]).toEqual([100, 200, 105]);
    log.close();
    appendFileSync(join(dir, 'seq.log'), '["s","a",99'); // a crash mid-write: never fsynced, never used
    const again = new SeqLog(dir, 100);
    expect([...again.marks()]).toEqual([
      ['s', 'a', 200],
      ['s', 'b', 105],
    ]);
    expect(readFileSync(join(dir, 'seq.log'), 'utf8').trim().split('\n')).toHaveLength(2);
    again.close();
    expect(() => again.reserve('s', 'a', 200)).toThrow(/closed/);
  });
});

describe('seq on the wire', () => {
  let server: FakeServer;
  afterEach(() => server?.close());
  /** What the real ingest answers when it accepts everything, on either route. */
  const accept = (req: RecordedRequest) =>
    req.url.endsWith('/batch')
      ? { status: 200, body: acceptAll(req.body) }
      : { status: 202, body: { status: 'success', stream_id: '1-0', message: 'ok' } };
  const sent = () => server.requests.flatMap((r) => {
    const body = r.body as { readings?: IdentifiedReading[] } & IdentifiedReading;
    return body.readings ?? [body];
  });

  it('numbers every reading once, from the clock, and resends it with the same number', async () => {
    server = await startFakeServer((req, n) => (n === 1 ? { status: 503, body: unavailable } : accept(req)));
    const client = new EnergyPipelineClient({ ingestUrl: server.url, retry: quickRetry });
    const before = Date.now() * 1000;
    await client.sendReading(reading(0));
    await client.sendReadings([reading(4), reading(1), reading(8, { seq: 42 })]);
    const [first, resent, ...batch] = sent();
    expect(resent!.seq).toBe(first!.seq);
    expect(resent!.reading_id).toBe(first!.reading_id);
    expect(first!.seq).toBeGreaterThanOrEqual(before);
    expect(first!.seq).toBeLessThan((Date.now() + 1) * 1000);
    // meter-0 twice (readings 0 and 4), in the order given; meter-1 its own counter; a given seq kept.
    expect(batch.map((r) => r.seq)).toEqual([first!.seq! + 1, expect.any(Number), 42]);
    expect(batch[1]!.seq).toBeGreaterThanOrEqual(before);
  });

  it('a spooled buffer persists the counters: a new process continues where the last reserved', async () => {
    server = await startFakeServer(accept);
    const dir = mkdtempSync(join(tmpdir(), 'ep-seq-'));
    try {
      const first = new EnergyPipelineClient({ ingestUrl: server.url }).buffer({ store: openSpool(dir, { seqBlockSize: 50 }) });
      for (let i = 0; i < 3; i++) first.add(reading(0));
      await first.close();
      const client = new EnergyPipelineClient({ ingestUrl: server.url });
      const second = client.buffer({ store: openSpool(dir, { seqBlockSize: 50 }) });
      second.add(reading(0));
      await client.sendReading(reading(0)); // the client's own sends share the persisted counter
      await second.close();
      const seqs = sent().map((r) => r.seq!);
      expect(seqs.slice(1, 3)).toEqual([seqs[0]! + 1, seqs[0]! + 2]);
      // The buffered reading got the first number of the new block, the direct send the next.
      expect(seqs.slice(3).sort((a, b) => a - b)).toEqual([seqs[0]! + 50, seqs[0]! + 51]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
