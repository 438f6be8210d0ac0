import { afterEach, describe, expect, it } from 'vitest';
import { initContract } from '@ts-rest/core';
import { z } from 'zod';
import {
  AuthError,
  EnergyPipelineClient,
  type EnergyPipelineError,
  HttpError,
  NetworkError,
  RateLimitedError,
  TimeoutError,
  UnavailableError,
  ValidationError,
} from '../src/index.js';
import { createContractClient } from '../src/contract-client.js';
import { answerLost, backoffMs, DEFAULT_RETRY, isRetryable, parseRetryAfter, retryPolicy } from '../src/retry.js';
import { freePort } from '../../scripts/lib/redis-server.js';
import { acceptAll, type FakeReply, type FakeServer, quickRetry, reading, startFakeServer, unavailable } from './helpers.js';

const accepted = { status: 202, body: { status: 'success', stream_id: '1-0', message: 'ok' } };
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(script: (n: number) => FakeReply) {
  server = await startFakeServer((_req, n) => script(n));
  return server;
}

const clientFor = (url: string, options: Partial<ConstructorParameters<typeof EnergyPipelineClient>[0]> = {}) =>
  new EnergyPipelineClient({ ingestUrl: url, retry: quickRetry, timeoutMs: 2_000, ...options });

describe('backoff and Retry-After', () => {
  it('draws full jitter below a doubling bound capped at maxDelayMs', () => {
    const policy = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1_000 });
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, policy, () => 0.999))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffMs(3, policy, () => 0)).toBe(0);
  });

  it('draws equal jitter between half the bound and the bound', () => {
    const shape = { baseDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, shape, () => 0, 'equal'))).toEqual([50, 100, 200, 400, 500]);
    expect(backoffMs(5, shape, () => 1, 'equal')).toBe(1_000);
  });

  it('reads Retry-After as seconds or as an HTTP date, and ignores garbage', () => {
    const now = Date.parse('2026-01-15T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 10:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('has documented defaults and refuses nonsense', () => {
    expect(DEFAULT_RETRY).toEqual({ maxAttempts: 5, maxElapsedMs: 30_000, baseDelayMs: 200, maxDelayMs: 10_000 });
    expect(() => retryPolicy({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => retryPolicy({ baseDelayMs: -1 })).toThrow(RangeError);
  });
});

describe('retries of one reading against a failing server', () => {
  it.each([502, 503, 504])('retries %i and sends the same reading_id every time', async (status) => {
    const s = await serve((n) => (n < 3 ? { status, body: unavailable } : accepted));
    const result = await clientFor(s.url).sendReading(reading());
    expect(s.requests).toHaveLength(3);
    const ids = s.requests.map((r) => (r.body as { reading_id: string }).reading_id);
    expect(new Set(ids)).toEqual(new Set([result.reading_id]));
  });

  it('waits as long as Retry-After says on 429, then succeeds', async () => {
    const s = await serve((n) =>
      n === 1 ? { status: 429, body: { error: 'rate_limited', message: 'slow down' }, headers: { 'retry-after': '1' } } : accepted,
    );
    const waits: number[] = [];
    const started = Date.now();
    await clientFor(s.url, { onRetry: (i) => waits.push(i.delayMs) }).sendReading(reading());
    expect(waits).toEqual([1_000]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('gives up with a RateLimitedError carrying Retry-After when it would outlast the budget', async () => {
    const s = await serve(() => ({ status: 429, body: { error: 'rate_limited', message: 'slow down' }, headers: { 'retry-after': '60' } }));
    const err = (await clientFor(s.url).sendReading(reading()).catch((e: unknown) => e)) as RateLimitedError;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect([err.kind, err.retryAfterMs, err.attempts]).toEqual(['rate_limited', 60_000, 1]);
    expect(s.requests).toHaveLength(1);
  });

  it('stops after maxAttempts with the last error', async () => {
    const s = await serve(() => ({ status: 503, body: unavailable, headers: { 'retry-after': '0' } }));
    const err = (await clientFor(s.url).sendReading(reading()).catch((e: unknown) => e)) as UnavailableError;
    expect(err).toBeInstanceOf(UnavailableError);
    expect([err.code, err.status, err.attempts]).toEqual(['unavailable', 503, quickRetry.maxAttempts]);
    expect(s.requests).toHaveLength(quickRetry.maxAttempts);
  });

  it('stops when the total time budget is spent, however many attempts remain', async () => {
    const s = await serve(() => ({ status: 503, body: unavailable }));
    const retry = { maxAttempts: 1_000, maxElapsedMs: 300, baseDelayMs: 50, maxDelayMs: 50 };
    const started = Date.now();
    const err = (await clientFor(s.url, { retry }).sendReading(reading()).catch((e: unknown) => e)) as EnergyPipelineError;
    expect(err).toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(s.requests.length).toBeLessThan(1_000);
    expect(err.attempts).toBe(s.requests.length);
  });

  it.each([
    [400, ValidationError, 'validation_failed', { error: 'validation_failed', message: 'bad', issues: [{ in: 'body', path: 'site_id', message: 'x' }] }],
    [400, HttpError, 'bad_request', { error: 'bad_request', message: 'not JSON' }],
    [401, AuthError, 'unauthorized', { error: 'unauthorized', message: 'no key' }],
    [403, AuthError, 'forbidden', { error: 'forbidden', message: 'not yours' }],
    [404, HttpError, 'not_found', 'no such page'],
    [413, HttpError, 'payload_too_large', { error: 'payload_too_large', message: 'big' }],
    // A code the contract does not know: the status names the kind.
    [500, HttpError, 'internal_error', { error: 'internal', message: 'oops' }],
  ] as const)('does not retry %i and throws %o, its kind the contract code', async (status, type, kind, body) => {
    const s = await serve(() => ({ status, body }));
    const err = (await clientFor(s.url).sendReading(reading()).catch((e: unknown) => e)) as EnergyPipelineError;
    expect(err).toBeInstanceOf(type);
    const code = typeof body === 'string' ? undefined : body.error;
    expect([err.status, err.kind, err.code, isRetryable(err)]).toEqual([status, kind, code, false]);
    expect(s.requests).toHaveLength(1);
  });

  it('retries the kinds a later attempt may get past, and only those', () => {
    expect(['rate_limited', 'unavailable', 'network', 'timeout'].filter((k) => isRetryable(k))).toHaveLength(4);
    for (const kind of ['validation_failed', 'forbidden', 'out_of_order', 'conflict', 'window_full', 'unauthorized', 'internal_error', 'buffer_full']) {
      expect(isRetryable(kind), kind).toBe(false);
    }
    expect(isRetryable(new UnavailableError('x', { status: 504 }))).toBe(true);
    expect(isRetryable(new Error('not ours'))).toBe(false);
  });

  it('retries a timeout, then reports a TimeoutError', async () => {
    const s = await serve((n) => (n === 1 ? 'hang' : accepted));
    await clientFor(s.url, { timeoutMs: 200 }).sendReading(reading());
    expect(s.requests).toHaveLength(2);

    const always = await startFakeServer(() => 'hang');
    try {
      const err = (await clientFor(always.url, { timeoutMs: 100, retry: { ...quickRetry, maxAttempts: 2 } })
        .sendReading(reading())
        .catch((e: unknown) => e)) as TimeoutError;
      expect(err).toBeInstanceOf(TimeoutError);
      expect([err.kind, err.attempts]).toEqual(['timeout', 2]);
    } finally {
      await always.close();
    }
  });

  it('retries a reset connection and reports a refused one as a NetworkError', async () => {
    const s = await serve((n) => (n === 1 ? 'reset' : accepted));
    await clientFor(s.url).sendReading(reading());
    expect(s.requests).toHaveLength(2);

    const port = await freePort(); // nothing listens there
    const err = (await clientFor(`http://127.0.0.1:${port}`).sendReading(reading()).catch((e: unknown) => e)) as NetworkError;
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.attempts).toBe(quickRetry.maxAttempts);
    // Refused: the request never left, so no attempt can have stored it.
    expect([err.sent, answerLost(err), err.earlierAnswerLost]).toEqual([false, false, false]);

    const resets = await startFakeServer(() => 'reset');
    try {
      const lost = (await clientFor(resets.url).sendReading(reading()).catch((e: unknown) => e)) as NetworkError;
      expect(lost).toBeInstanceOf(NetworkError);
      // Reset after the request was sent: the server may have acted on it.
      expect([lost.sent, answerLost(lost), lost.earlierAnswerLost]).toEqual([true, true, true]);
    } finally {
      await resets.close();
    }
  });

  it('stops waiting when the caller aborts', async () => {
    const controller = new AbortController();
    // Aborts during the 30 s wait that follows the first answer (a fixed delay raced a loaded machine).
    const s = await serve(() => {
      setTimeout(() => controller.abort(new Error('shutting down')), 50);
      return { status: 503, body: unavailable, headers: { 'retry-after': '30' } };
    });
    const retry = { ...quickRetry, maxElapsedMs: 60_000 };
    const err = await clientFor(s.url, { retry }).sendReading(reading(), { signal: controller.signal }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('shutting down');
    expect(s.requests).toHaveLength(1);
  });

  it('sends the API key as a Bearer token and can gzip bodies', async () => {
    const s = await serve(() => accepted);
    await clientFor(s.url, { apiKey: 'k-123', gzipMinBytes: 1 }).sendReading(reading(7));
    const [req] = s.requests;
    expect(req!.headers['authorization']).toBe('Bearer k-123');
    expect(req!.headers['content-encoding']).toBe('gzip');
    expect((req!.body as { power_reading: number }).power_reading).toBe(107);
  });
});

describe('retries of a batch', () => {
  it('resends only the readings the server could not store, never the accepted ones', async () => {
    const seen: string[][] = [];
    server = await startFakeServer((req) => {
      const readings = (req.body as { readings: { reading_id: string; power_reading: number }[] }).readings;
      seen.push(readings.map((r) => r.reading_id));
      // Odd power readings fail the first time they arrive, as when a Redis write fails mid-batch.
      const results = readings.map((r, index) =>
        seen.length === 1 && r.power_reading % 2 === 1
          ? { index, status: 'rejected', ...unavailable }
          : { index, status: 'accepted', stream_id: `9-${r.power_reading}`, duplicate: false },
      );
      const ok = results.filter((r) => r.status === 'accepted').length;
      return { status: 200, body: { accepted: ok, rejected: results.length - ok, results } };
    });
    const readings = Array.from({ length: 6 }, (_, i) => reading(i));
    const sent = await clientFor(server.url).sendReadings(readings);
    expect([sent.accepted, sent.rejected]).toEqual([6, 0]);
    const ids = sent.results.map((r) => r.reading_id);
    expect(seen).toEqual([ids, [ids[1], ids[3], ids[5]]]);
    expect(sent.results.map((r) => (r.status === 'accepted' ? r.stream_id : r.error))).toEqual(
      readings.map((r) => `9-${r.power_reading}`),
    );
  });

  it('retries a whole batch answered 503 and reports readings it could not deliver as retryable', async () => {
    const s = await serve(() => ({ status: 503, body: unavailable }));
    const sent = await clientFor(s.url, { batchSize: 2 }).sendReadings([reading(1), reading(2), reading(3)]);
    // The first batch used up the budget; the second was not tried, and says so.
    expect(s.requests).toHaveLength(quickRetry.maxAttempts);
    expect([sent.accepted, sent.rejected]).toEqual([0, 3]);
    expect(sent.results.map((r) => r.status === 'rejected' && [r.error, r.retryable])).toEqual([
      ['unavailable', true],
      ['unavailable', true],
      ['unavailable', true],
    ]);
  });

  it('throws errors that concern every reading, such as a bad API key', async () => {
    const s = await serve(() => ({ status: 401, body: { error: 'unauthorized', message: 'unknown API key' } }));
    await expect(clientFor(s.url).sendReadings([reading(1)])).rejects.toBeInstanceOf(AuthError);
  });

  it('chunks to batchSize and keeps reading_ids stable across requests', async () => {
    server = await startFakeServer((req) => ({ status: 200, body: acceptAll(req.body) }));
    const sent = await clientFor(server.url, { batchSize: 3 }).sendReadings(Array.from({ length: 7 }, (_, i) => reading(i)));
    expect(server.requests.map((r) => (r.body as { readings: unknown[] }).readings.length)).toEqual([3, 3, 1]);
    const wireIds = server.requests.flatMap((r) => (r.body as { readings: { reading_id: string }[] }).readings.map((x) => x.reading_id));
    expect(wireIds).toEqual(sent.results.map((r) => r.reading_id));
  });
});

describe('routes derived from a contract', () => {
  const c = initContract();
  const contract = c.router({
    replay: { method: 'POST', path: '/dead-letters/:id/replay', body: z.object({}), responses: { 200: z.object({ ok: z.boolean() }) } },
    get: { method: 'GET', path: '/items/:id', query: z.object({ full: z.string().optional() }), responses: { 200: z.object({ id: z.string() }) } },
  });
  const transport = { timeoutMs: 1_000, retry: retryPolicy(quickRetry), fetch: globalThis.fetch, gzipMinBytes: 0 };

  it('builds paths and queries from the contract and retries GETs on 502', async () => {
    const s = await serve((n) => (n === 1 ? { status: 502, body: 'bad gateway' } : { status: 200, body: { id: 'x' } }));
    const api = createContractClient(contract, { baseUrl: s.url, headers: {}, transport });
    expect(await api.get({ params: { id: 'a b' }, query: { full: 'yes' } })).toEqual({ id: 'x' });
    expect(s.requests.map((r) => r.url)).toEqual(['/items/a%20b?full=yes', '/items/a%20b?full=yes']);
  });

  it('does not resend a POST whose answer is lost, but does after a 503 that says it was not processed', async () => {
    const s = await serve((n) => (n === 1 ? { status: 503, body: unavailable } : n === 2 ? { status: 502, body: 'x' } : { status: 200, body: { ok: true } }));
    const api = createContractClient(contract, { baseUrl: s.url, headers: {}, transport });
    const err = (await api.replay({ params: { id: '1' }, body: {} }).catch((e: unknown) => e)) as UnavailableError;
    expect(err).toBeInstanceOf(UnavailableError);
    expect([err.status, err.attempts]).toEqual([502, 2]);
  });
});

/** The ingest's 409 to a reading below what it remembers of its device. */
const outOfOrder = {
  error: 'out_of_order',
  message: 'Not stored now: seq 5 is below seq 2000, the oldest still remembered of the device',
  stored_before: 'unknown',
};
const conflict = {
  error: 'conflict',
  message: "Not stored: device 'meter-0' at site 'site-001' already has a different reading at seq 7 (power_reading differs)",
  issues: [{ in: 'body', path: 'power_reading', message: 'differs from the reading already stored under this identity' }],
};
const windowFull = { error: 'window_full', message: 'Not stored: number its readings with seq' };
const corrupt = { error: 'internal_error', message: 'Not stored: the dedupe state is unreadable', stored_before: 'unknown' };

describe('readings the server cannot check against earlier copies (stored_before)', () => {
  const caught = (p: Promise<unknown>) => p.then(() => expect.unreachable('resolved')).catch((e: unknown) => e as EnergyPipelineError);

  it.each([
    ['a timeout', 'hang' as const, true],
    ['a reset connection', 'reset' as const, true],
    ['a 504 from a proxy', { status: 504, body: 'gateway timeout' }, true],
    ['a 503 whose outcome is unknown', { status: 503, body: { ...unavailable, outcome: 'unknown' } }, true],
    ['a 503 saying not_stored', { status: 503, body: { ...unavailable, outcome: 'not_stored' } }, false],
    ['a 429', { status: 429, body: { error: 'rate_limited', message: 'slow down' } }, false],
  ] as const)('after %s, an out_of_order resend is unconfirmed: %s', async (_what, first, lost) => {
    const s = await serve((n) => (n === 1 ? first : { status: 409, body: outOfOrder }));
    const err = await caught(clientFor(s.url, { timeoutMs: 200 }).sendReading(reading()));
    expect(err).toBeInstanceOf(HttpError);
    expect([err.kind, err.status, err.storedBefore, err.attempts]).toEqual(['out_of_order', 409, 'unknown', 2]);
    expect([err.earlierAnswerLost, err.unconfirmed]).toEqual([lost, lost]);
    expect(s.requests).toHaveLength(2); // out_of_order is not retried
  });

  it('reports an out_of_order answer to a first attempt as a refusal, stored_before surfaced', async () => {
    const s = await serve(() => ({ status: 409, body: outOfOrder }));
    const err = await caught(clientFor(s.url).sendReading(reading()));
    expect([err.kind, err.storedBefore, err.unconfirmed, isRetryable(err)]).toEqual(['out_of_order', 'unknown', false, false]);
    expect(s.requests).toHaveLength(1);
  });

  it('never calls an out_of_order without stored_before unconfirmed, whatever came before', async () => {
    const s = await serve((n) => (n === 1 ? 'reset' : { status: 409, body: { error: 'out_of_order', message: 'old server' } }));
    const err = await caught(clientFor(s.url).sendReading(reading()));
    expect([err.kind, err.earlierAnswerLost, err.storedBefore, err.unconfirmed]).toEqual(['out_of_order', true, undefined, false]);
  });

  it('throws conflict with the differing fields and window_full, without retrying either', async () => {
    let s = await serve(() => ({ status: 409, body: conflict }));
    const c = await caught(clientFor(s.url).sendReading(reading()));
    expect(c).toBeInstanceOf(HttpError);
    expect([c.kind, c.status, isRetryable(c), c.unconfirmed]).toEqual(['conflict', 409, false, false]);
    expect(c.issues.map((i) => i.path)).toEqual(['power_reading']);
    expect(s.requests).toHaveLength(1);
    await s.close();

    s = await serve(() => ({ status: 409, body: windowFull }));
    const w = await caught(clientFor(s.url).sendReading(reading()));
    expect([w.kind, w.status, isRetryable(w)]).toEqual(['window_full', 409, false]);
    expect(s.requests).toHaveLength(1);
  });

  it('does not retry an internal_error with stored_before, nor call it unconfirmed after a lost answer', async () => {
    const s = await serve((n) => (n === 1 ? 'reset' : { status: 500, body: corrupt }));
    const err = await caught(clientFor(s.url).sendReading(reading()));
    expect([err.kind, err.status, err.storedBefore, err.earlierAnswerLost, err.unconfirmed]).toEqual([
      'internal_error',
      500,
      'unknown',
      true,
      false,
    ]);
    expect(s.requests).toHaveLength(2); // the reset was retried, the 500 was not
  });

  it('classifies answers by whether the request may have been acted on', () => {
    expect(answerLost(new TimeoutError('x'))).toBe(true);
    expect(answerLost(new NetworkError('x', { sent: false }))).toBe(false);
    expect(answerLost(new UnavailableError('x', { status: 502 }))).toBe(true);
    expect(answerLost(new UnavailableError('x', { status: 503 }))).toBe(false);
    expect(answerLost(new UnavailableError('x', { status: 503, outcome: 'unknown' }))).toBe(true);
    expect(answerLost(new RateLimitedError('x', { status: 429 }))).toBe(false);
  });
});

describe('batch results the server cannot check against earlier copies', () => {
  type Item = { reading_id: string; power_reading: number };
  /** Answers each reading by its power_reading and how often its reading_id came before. */
  async function batchServer(answer: (r: Item, seen: number) => { status: string } & Record<string, unknown>) {
    const seen = new Map<string, number>();
    server = await startFakeServer((req) => {
      const readings = (req.body as { readings: Item[] }).readings;
      const results = readings.map((r, index) => {
        const n = (seen.get(r.reading_id) ?? 0) + 1;
        seen.set(r.reading_id, n);
        return { index, ...answer(r, n) };
      });
      const accepted = results.filter((r) => r.status === 'accepted').length;
      return { status: 200, body: { accepted, rejected: results.length - accepted, results } };
    });
    return server;
  }
  const ok = { status: 'accepted', stream_id: '1-0', duplicate: false };
  const refused = (body: Record<string, unknown>) => ({ status: 'rejected', ...body });

  it('reports a resend after an unknown outcome, answered out_of_order, as unconfirmed and not rejected', async () => {
    // 100: stored. 101: unknown outcome, then too old to check. 102: not stored, then out_of_order.
    // 103: out_of_order at once. 104: unknown outcome, then accepted as a duplicate.
    const s = await batchServer((r, seen) => {
      if (r.power_reading === 100) return ok;
      if (r.power_reading === 103) return refused(outOfOrder);
      if (seen === 1 && r.power_reading !== 102) return refused({ ...unavailable, outcome: 'unknown' });
      if (seen === 1) return refused({ ...unavailable, outcome: 'not_stored' });
      if (r.power_reading === 104) return { ...ok, stream_id: null, duplicate: true };
      return refused(outOfOrder);
    });
    const sent = await clientFor(s.url).sendReadings([0, 1, 2, 3, 4].map((i) => reading(i)));
    expect([sent.accepted, sent.rejected, sent.unconfirmed]).toEqual([2, 2, 1]);
    expect(sent.results.map((r) => r.status)).toEqual(['accepted', 'unconfirmed', 'rejected', 'rejected', 'accepted']);
    expect(sent.results[1]).toMatchObject({ status: 'unconfirmed', error: 'out_of_order', stored_before: 'unknown', retryable: false });
    for (const i of [2, 3]) expect(sent.results[i]).toMatchObject({ status: 'rejected', error: 'out_of_order', stored_before: 'unknown', retryable: false });
    // Only the readings the server could not store were resent, once.
    expect(s.requests.map((r) => (r.body as { readings: Item[] }).readings.map((x) => x.power_reading))).toEqual([
      [100, 101, 102, 103, 104],
      [101, 102, 104],
    ]);
  });

  it('reports readings of a batch whose first answer was lost as unconfirmed when the resend is out_of_order', async () => {
    let requests = 0;
    server = await startFakeServer((req) => {
      requests += 1;
      if (requests === 1) return 'reset';
      const readings = (req.body as { readings: unknown[] }).readings;
      const results = readings.map((_, index) => ({ index, status: 'rejected', ...outOfOrder }));
      return { status: 200, body: { accepted: 0, rejected: readings.length, results } };
    });
    const sent = await clientFor(server.url).sendReadings([reading(1), reading(2)]);
    expect([sent.accepted, sent.rejected, sent.unconfirmed]).toEqual([0, 0, 2]);
    expect(server.requests).toHaveLength(2);
  });

  it('takes earlier calls into account: readings named in `unanswered`', async () => {
    const s = await batchServer(() => refused(outOfOrder));
    const client = clientFor(s.url);
    const readings = [reading(1), reading(2)].map((r) => client.identify(r));
    const sent = await client.sendReadings(readings, { unanswered: new Set([readings[0]!.reading_id]) });
    expect(sent.results.map((r) => r.status)).toEqual(['unconfirmed', 'rejected']);
    expect([sent.rejected, sent.unconfirmed]).toEqual([1, 1]);
  });

  it('says which undelivered readings an attempt may have stored (outcome)', async () => {
    const s = await serve((n) => (n === 1 ? { status: 503, body: { ...unavailable, outcome: 'unknown' } } : { status: 503, body: unavailable }));
    const sent = await clientFor(s.url, { batchSize: 1 }).sendReadings([reading(1), reading(2)]);
    // The first batch was answered `unknown` once; the second was never tried.
    expect(sent.results.map((r) => r.status === 'rejected' && [r.error, r.retryable, r.outcome])).toEqual([
      ['unavailable', true, 'unknown'],
      ['unavailable', true, 'not_stored'],
    ]);
  });

  it('rejects conflict, window_full and internal_error items for good, with issues and stored_before, and never resends them', async () => {
    const s = await batchServer((r) =>
      r.power_reading === 100 ? refused(conflict) : r.power_reading === 101 ? refused(windowFull) : refused({ ...corrupt, outcome: 'not_stored' }),
    );
    const sent = await clientFor(s.url).sendReadings([reading(0), reading(1), reading(2)]);
    expect([sent.accepted, sent.rejected, sent.unconfirmed]).toEqual([0, 3, 0]);
    expect(sent.results.map((r) => r.status === 'rejected' && [r.error, r.retryable])).toEqual([
      ['conflict', false],
      ['window_full', false],
      ['internal_error', false],
    ]);
    const [c, , e] = sent.results;
    expect(c!.status === 'rejected' && c!.issues?.map((i) => i.path)).toEqual(['power_reading']);
    expect(e).toMatchObject({ stored_before: 'unknown', outcome: 'not_stored' });
    expect(s.requests).toHaveLength(1);
  });
});
