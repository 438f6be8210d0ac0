import { afterEach, describe, expect, it } from 'vitest';
import {
  BufferClosedError,
  BufferFullError,
  type BufferStore,
  EnergyPipelineClient,
  type IdentifiedReading,
  ValidationError,
} from '../src/index.js';
import { eventually } from '../../scripts/lib/redis-server.js';
import { acceptAll, type FakeReply, type FakeServer, quickRetry, reading, startFakeServer, unavailable } from './helpers.js';

/** `down`: 503, nothing stored; `lost`: 503 whose outcome is unknown, as when Redis did not answer in time. */
type Mode = 'accept' | 'down' | 'lost' | 'hang';
let server: FakeServer;
let mode: Mode = 'accept';
afterEach(() => server?.close());

/** A fake ingest whose behaviour the test switches; batches of readings it accepted are recorded. */
async function ingest(reply?: (body: unknown) => FakeReply) {
  mode = 'accept';
  server = await startFakeServer((req) => {
    if (mode === 'down') return { status: 503, body: unavailable };
    if (mode === 'lost') return { status: 503, body: { ...unavailable, outcome: 'unknown' } };
    if (mode === 'hang') return 'hang';
    return reply ? reply(req.body) : { status: 200, body: acceptAll(req.body) };
  });
  return new EnergyPipelineClient({ ingestUrl: server.url, retry: { ...quickRetry, maxAttempts: 2 }, timeoutMs: 60_000 });
}

/** Answers every reading of a batch out_of_order with stored_before: unknown (too old to check). */
function tooOld(body: unknown): FakeReply {
  const readings = (body as { readings: IdentifiedReading[] }).readings;
  const results = readings.map((_, index) => ({ index, status: 'rejected', error: 'out_of_order', message: 'below what is remembered', stored_before: 'unknown' }));
  return { status: 200, body: { accepted: 0, rejected: readings.length, results } };
}

const batchSizes = () => server.requests.map((r) => (r.body as { readings: unknown[] }).readings.length);
const sentIds = () => server.requests.flatMap((r) => (r.body as { readings: IdentifiedReading[] }).readings.map((x) => x.reading_id));

describe('ReadingBuffer', () => {
  it('sends a full batch at once and the rest on flush, in order', async () => {
    const buffer = (await ingest()).buffer({ maxBatchSize: 5, flushIntervalMs: 60_000 });
    const ids = Array.from({ length: 12 }, (_, i) => buffer.add(reading(i)));
    await eventually(() => server.requests.length === 2);
    await buffer.flush();
    expect(batchSizes()).toEqual([5, 5, 2]);
    expect(sentIds()).toEqual(ids);
    expect(buffer.stats).toMatchObject({ buffered: 0, sent: 12, rejected: 0, dropped: 0 });
    await buffer.close();
  });

  it('sends a partial batch when the interval comes round', async () => {
    const buffer = (await ingest()).buffer({ maxBatchSize: 100, flushIntervalMs: 50 });
    buffer.add(reading(1));
    buffer.add(reading(2));
    await eventually(() => buffer.stats.sent === 2);
    expect(batchSizes()).toEqual([2]);
    await buffer.close();
  });

  it('refuses a reading the server would refuse, before buffering it', async () => {
    const buffer = (await ingest()).buffer();
    expect(() => buffer.add(reading(1, { power_readng: 5 }))).toThrow(ValidationError);
    try {
      buffer.add(reading(1, { device_id: 'has space' }));
    } catch (err) {
      expect((err as ValidationError).issues.map((i) => i.path)).toEqual(['device_id']);
    }
    expect(buffer.stats.buffered).toBe(0);
    await buffer.close();
  });

  it('under the reject policy, throws BufferFullError and keeps everything it accepted', async () => {
    const client = await ingest();
    mode = 'hang';
    const buffer = client.buffer({ maxBatchSize: 2, maxBufferedReadings: 4, flushIntervalMs: 60_000 });
    for (let i = 0; i < 4; i++) buffer.add(reading(i));
    expect(() => buffer.add(reading(4))).toThrow(BufferFullError);
    expect(buffer.stats).toMatchObject({ buffered: 4, dropped: 0 });
    await server.close(); // the hanging request fails; the buffer keeps its readings
  });

  it('under drop-oldest, drops the oldest reading not in flight and counts it', async () => {
    const client = await ingest();
    mode = 'hang';
    const dropped: number[] = [];
    const buffer = client.buffer({
      maxBatchSize: 2,
      maxBufferedReadings: 4,
      overflow: 'drop-oldest',
      flushIntervalMs: 60_000,
      onDrop: (r) => dropped.push(r.power_reading),
    });
    for (let i = 0; i < 4; i++) buffer.add(reading(i));
    await eventually(() => server.requests.length === 1); // readings 0 and 1 are in flight
    buffer.add(reading(4));
    buffer.add(reading(5));
    expect(dropped).toEqual([102, 103]);
    expect(buffer.stats).toMatchObject({ buffered: 4, dropped: 2 });
  });

  it('keeps readings through an outage and delivers each once when the server is back', async () => {
    const client = await ingest();
    mode = 'down';
    const errors: unknown[] = [];
    const buffer = client.buffer({ maxBatchSize: 3, flushIntervalMs: 20, maxRetryIntervalMs: 50, onError: (e) => errors.push(e) });
    const ids = Array.from({ length: 7 }, (_, i) => buffer.add(reading(i)));
    await eventually(() => errors.length >= 2);
    expect(errors[0]).toMatchObject({ kind: 'unavailable' });
    expect(buffer.stats).toMatchObject({ buffered: 7, sent: 0 });
    const failedRequests = server.requests.length;
    mode = 'accept';
    await eventually(() => buffer.stats.sent === 7);
    const accepted = server.requests.slice(failedRequests).flatMap((r) => (r.body as { readings: IdentifiedReading[] }).readings);
    expect(accepted.map((r) => r.reading_id)).toEqual(ids);
    await buffer.close();
  });

  it('flush() rejects while the server is down and keeps the readings for later', async () => {
    const client = await ingest();
    mode = 'down';
    const buffer = client.buffer({ flushIntervalMs: 60_000 });
    buffer.add(reading(1));
    await expect(buffer.flush()).rejects.toMatchObject({ kind: 'unavailable' });
    expect(buffer.stats).toMatchObject({ buffered: 1, sent: 0 });
    mode = 'accept';
    await buffer.flush();
    expect(buffer.stats).toMatchObject({ buffered: 0, sent: 1 });
  });

  it('drops readings the server refuses for good (invalid, out of order) and reports them', async () => {
    const client = await ingest((body) => {
      const readings = (body as { readings: IdentifiedReading[] }).readings;
      const results = readings.map((r, index) =>
        r.power_reading === 101
          ? { index, status: 'rejected', error: 'validation_failed', message: 'too old', issues: [{ in: 'body', path: 'timestamp', message: 'is too old' }] }
          : r.power_reading === 102
            ? { index, status: 'rejected', error: 'out_of_order', message: 'older than remembered', stored_before: 'unknown' }
            : { index, status: 'accepted', stream_id: '1-1', duplicate: false },
      );
      return { status: 200, body: { accepted: readings.length - 2, rejected: 2, results } };
    });
    const refused: string[] = [];
    const unconfirmed: unknown[] = [];
    const buffer = client.buffer({
      onRejected: (r, result) => refused.push(`${r.power_reading} ${result.error} ${result.issues?.[0]?.path} ${result.stored_before}`),
      onUnconfirmed: (r) => unconfirmed.push(r),
    });
    for (let i = 0; i < 3; i++) buffer.add(reading(i));
    await buffer.flush();
    // Sent once and answered: an out_of_order on a first attempt is a refusal.
    expect(refused).toEqual(['101 validation_failed timestamp undefined', '102 out_of_order undefined unknown']);
    expect(unconfirmed).toEqual([]);
    expect(buffer.stats).toMatchObject({ buffered: 0, sent: 1, rejected: 2, unconfirmed: 0 });
    await buffer.close();
  });

  it('counts a resend after a lost answer that the server can no longer check as unconfirmed, not rejected', async () => {
    const client = await ingest(tooOld);
    const rejected: unknown[] = [];
    const unconfirmed: string[] = [];
    const buffer = client.buffer({
      flushIntervalMs: 60_000,
      onRejected: (r) => rejected.push(r),
      onUnconfirmed: (r, result) => unconfirmed.push(`${r.reading_id === result.reading_id} ${result.status} ${result.error} ${result.stored_before}`),
    });
    buffer.add(reading(1));
    buffer.add(reading(2));
    // Both attempts of the first send may have stored the readings; the buffer keeps them.
    mode = 'lost';
    await expect(buffer.flush()).rejects.toMatchObject({ kind: 'unavailable' });
    expect(buffer.stats).toMatchObject({ buffered: 2, rejected: 0, unconfirmed: 0 });
    mode = 'accept';
    buffer.add(reading(3)); // never sent before: a plain refusal
    await buffer.flush();
    expect(unconfirmed).toEqual(['true unconfirmed out_of_order unknown', 'true unconfirmed out_of_order unknown']);
    expect(rejected).toHaveLength(1);
    expect(buffer.stats).toMatchObject({ buffered: 0, sent: 0, rejected: 1, unconfirmed: 2 });
    await buffer.close();
  });

  it('does not count readings refused with not_stored before as unconfirmed', async () => {
    const client = await ingest(tooOld);
    mode = 'down'; // a 503 without outcome: the request was not processed
    const buffer = client.buffer({ flushIntervalMs: 60_000 });
    buffer.add(reading(1));
    await expect(buffer.flush()).rejects.toMatchObject({ kind: 'unavailable' });
    mode = 'accept';
    await buffer.flush();
    expect(buffer.stats).toMatchObject({ buffered: 0, rejected: 1, unconfirmed: 0 });
    await buffer.close();
  });

  it('marks readings in its store before sending them, and counts restored marked ones as unconfirmed', async () => {
    const client = await ingest(tooOld);
    const restored = [reading(1), reading(2)].map((r) => client.identify(r));
    const marks: string[][] = [];
    const acks: string[] = [];
    const store: BufferStore = {
      load: () => restored,
      append: () => {},
      acknowledge: (ids) => acks.push(...ids),
      close: () => {},
      sending: (ids) => marks.push([...ids]),
      // An earlier run sent the first and crashed before the answer came.
      sentBefore: () => new Set([restored[0]!.reading_id]),
    };
    const buffer = client.buffer({ store, flushIntervalMs: 60_000 });
    await buffer.flush();
    expect(marks).toEqual([restored.map((r) => r.reading_id)]);
    expect(buffer.stats).toMatchObject({ restored: 2, buffered: 0, rejected: 1, unconfirmed: 1 });
    // Both are answered for: neither is replayed again.
    expect(acks.sort()).toEqual(restored.map((r) => r.reading_id).sort());
    await buffer.close();
  });

  it('close() drains once, is safe to call twice, and refuses new readings', async () => {
    const buffer = (await ingest()).buffer({ flushIntervalMs: 60_000 });
    buffer.add(reading(1));
    const [a, b] = await Promise.all([buffer.close(), buffer.close()]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ buffered: 0, sent: 1 });
    expect(server.requests).toHaveLength(1);
    expect(() => buffer.add(reading(2))).toThrow(BufferClosedError);
    expect(await buffer.close()).toEqual(a);
  });

  it('close() reports what it could not deliver instead of throwing', async () => {
    const client = await ingest();
    mode = 'down';
    const buffer = client.buffer({ flushIntervalMs: 60_000 });
    buffer.add(reading(1));
    expect(await buffer.close()).toMatchObject({ buffered: 1, sent: 0 });
  });
});
