import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EnergyPipelineClient, HttpError, type IdentifiedReading } from '../src/index.js';
import { type FakeServer, reading, type Stack, startFakeServer, startStack, streamReadingIds } from './helpers.js';

/** What went over the wire: each request's encoding and the size of its JSON once decompressed. */
interface Sent {
  url: string;
  encoding: string | null;
  jsonBytes: number;
  readings: number;
}

/** A fetch that records every request before passing it on. */
function recordingFetch() {
  const sent: Sent[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    const body = init?.body;
    const raw = body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(typeof body === 'string' ? body : '');
    const json = headers.get('content-encoding') === 'gzip' ? gunzipSync(raw) : raw;
    const parsed = json.length > 0 ? (JSON.parse(json.toString('utf8')) as { readings?: unknown[] }) : {};
    sent.push({ url: String(input), encoding: headers.get('content-encoding'), jsonBytes: json.length, readings: parsed.readings?.length ?? 1 });
    return fetch(input, init);
  };
  return { sent, fetch: fetchImpl };
}

const batches = (sent: Sent[]) => sent.filter((s) => s.url.endsWith('/readings/batch'));

describe('batch size in bytes and gzip, against the real ingest with a 4 KiB body limit', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ BODY_LIMIT_BYTES: '4096' });
  });
  afterAll(() => stack.stop());

  it('gzips bodies of 1 KB and more by default, and not smaller ones', async () => {
    const wire = recordingFetch();
    const client = new EnergyPipelineClient({ ingestUrl: stack.ingestUrl, fetch: wire.fetch, maxBatchBytes: 4000 });
    await client.sendReading(reading(1));
    const sent = await client.sendReadings(Array.from({ length: 10 }, (_, i) => reading(i)));
    expect(sent.accepted).toBe(10);
    expect(wire.sent.map((s) => [s.encoding, s.jsonBytes >= 1024])).toEqual([
      [null, false],
      ['gzip', true],
    ]);
  });

  it('splits sendReadings by bytes as well as by count, so no batch passes the server limit', async () => {
    const wire = recordingFetch();
    const client = new EnergyPipelineClient({ ingestUrl: stack.ingestUrl, fetch: wire.fetch, maxBatchBytes: 4000, batchSize: 1000 });
    const before = (await streamReadingIds(stack)).length;
    const result = await client.sendReadings(Array.from({ length: 100 }, (_, i) => reading(i)));
    expect([result.accepted, result.rejected]).toEqual([100, 0]);
    expect((await streamReadingIds(stack)).length - before).toBe(100);
    const sizes = batches(wire.sent);
    expect(sizes.length).toBeGreaterThan(2);
    for (const s of sizes) expect(s.jsonBytes).toBeLessThanOrEqual(4000);
    // Full batches come close to the cap: the split is by bytes, not a guessed count.
    expect(sizes[0]!.jsonBytes).toBeGreaterThan(4000 - 250);
    expect(sizes.reduce((n, s) => n + s.readings, 0)).toBe(100);

    // Without the cap, the same batch is one request the server refuses as a whole: 413.
    const uncapped = new EnergyPipelineClient({ ingestUrl: stack.ingestUrl });
    const err = await uncapped.sendReadings(Array.from({ length: 100 }, (_, i) => reading(i))).catch((e: unknown) => e);
    expect([err instanceof HttpError, (err as HttpError).status]).toEqual([true, 413]);
  });

  it('the buffer splits by bytes too, and reports each accepted batch to onSuccess', async () => {
    const wire = recordingFetch();
    const client = new EnergyPipelineClient({ ingestUrl: stack.ingestUrl, fetch: wire.fetch, maxBatchBytes: 4000 });
    const delivered: string[] = [];
    const buffer = client.buffer({
      flushIntervalMs: 60_000,
      maxBatchBytes: 3000,
      onSuccess: (readings, results) => {
        expect(results.map((r) => r.reading_id)).toEqual(readings.map((r) => r.reading_id));
        expect(results.every((r) => r.status === 'accepted' && /^\d+-\d+$/.test(r.stream_id ?? ''))).toBe(true);
        delivered.push(...readings.map((r) => r.reading_id));
      },
    });
    const ids = Array.from({ length: 60 }, (_, i) => buffer.add(reading(i)));
    await buffer.flush();
    expect(delivered).toEqual(ids);
    const sizes = batches(wire.sent);
    expect(sizes.length).toBeGreaterThan(2);
    for (const s of sizes) expect(s.jsonBytes).toBeLessThanOrEqual(3000);
    await buffer.close();
  });
});

describe('callbacks and keys on the wire', () => {
  let server: FakeServer;
  afterEach(() => server?.close());

  it('a throwing onSuccess goes to onError and changes nothing the buffer keeps', async () => {
    server = await startFakeServer((req) => {
      const readings = (req.body as { readings: IdentifiedReading[] }).readings;
      const results = readings.map((_, index) => ({ index, status: 'accepted', stream_id: `1-${index}`, duplicate: false }));
      return { status: 200, body: { accepted: readings.length, rejected: 0, results } };
    });
    const errors: unknown[] = [];
    const buffer = new EnergyPipelineClient({ ingestUrl: server.url }).buffer({
      flushIntervalMs: 60_000,
      onSuccess: () => {
        throw new Error('bug in the callback');
      },
      onError: (e) => errors.push(e),
    });
    buffer.add(reading(1));
    buffer.add(reading(2));
    await buffer.flush();
    await buffer.flush();
    expect(errors.map((e) => (e as Error).message)).toEqual(['bug in the callback']);
    expect(buffer.stats).toMatchObject({ sent: 2, buffered: 0 });
    expect(server.requests).toHaveLength(1); // delivered once, not resent
    await buffer.close();
  });

  it('sends apiKey to the processor too, or processApiKey when given; never gzips processor bodies', async () => {
    server = await startFakeServer((req) =>
      req.url.startsWith('/dead-letters/delete') ? { status: 200, body: { deleted: 0 } } : { status: 200, body: { sites: [], next: null } },
    );
    const shared = new EnergyPipelineClient({ ingestUrl: server.url, processUrl: server.url, apiKey: 'k-write' });
    await shared.processor.sites();
    const separate = new EnergyPipelineClient({ ingestUrl: server.url, processUrl: server.url, apiKey: 'k-write', processApiKey: 'k-admin', gzipMinBytes: 1 });
    await separate.processor.sites();
    // A processor body well past the gzip threshold: the processor does not take gzip.
    await separate.processor.deleteDeadLetters({ body: { site_id: 's'.repeat(2000) } });
    await separate.sendReading(reading(1)).catch(() => {}); // ingest: the write key, gzipped
    expect(server.requests.map((r) => [r.url, r.headers['authorization'], r.headers['content-encoding'] ?? null])).toEqual([
      ['/sites', 'Bearer k-write', null],
      ['/sites', 'Bearer k-admin', null],
      ['/dead-letters/delete', 'Bearer k-admin', null],
      ['/readings', 'Bearer k-write', 'gzip'],
    ]);
  });
});
