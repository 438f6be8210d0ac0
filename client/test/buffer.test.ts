import { afterEach, describe, expect, it } from 'vitest';
import { BufferClosedError, BufferFullError, EnergyPipelineClient, type IdentifiedReading, ValidationError } from '../src/index.js';
import { eventually } from '../../scripts/lib/redis-server.js';
import { acceptAll, type FakeReply, type FakeServer, quickRetry, reading, startFakeServer, unavailable } from './helpers.js';

type Mode = 'accept' | 'down' | 'hang';
let server: FakeServer;
let mode: Mode = 'accept';
afterEach(() => server?.close());

/** A fake ingest whose behaviour the test switches; batches of readings it accepted are recorded. */
async function ingest(reply?: (body: unknown) => FakeReply) {
  mode = 'accept';
  server = await startFakeServer((req) => {
    if (mode === 'down') return { status: 503, body: unavailable };
    if (mode === 'hang') return 'hang';
    return reply ? reply(req.body) : { status: 200, body: acceptAll(req.body) };
  });
  return new EnergyPipelineClient({ ingestUrl: server.url, retry: { ...quickRetry, maxAttempts: 2 }, timeoutMs: 60_000 });
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
            ? { index, status: 'rejected', error: 'out_of_order', message: 'older than remembered' }
            : { index, status: 'accepted', stream_id: '1-1', duplicate: false },
      );
      return { status: 200, body: { accepted: readings.length - 2, rejected: 2, results } };
    });
    const refused: string[] = [];
    const buffer = client.buffer({ onRejected: (r, result) => refused.push(`${r.power_reading} ${result.error} ${result.issues?.[0]?.path}`) });
    for (let i = 0; i < 3; i++) buffer.add(reading(i));
    await buffer.flush();
    expect(refused).toEqual(['101 validation_failed timestamp', '102 out_of_order undefined']);
    expect(buffer.stats).toMatchObject({ buffered: 0, sent: 1, rejected: 2 });
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
