import {
  type BatchItemResult,
  type IngestContract,
  ingestContract,
  type ProcessContract,
  processContract,
} from '@energy-pipeline/contract';
import { fitBatch, readingBytes } from './batches.js';
import { ReadingBuffer, type BufferOptions } from './buffer.js';
import { type ContractClient, createContractClient } from './contract-client.js';
import { EnergyPipelineError } from './errors.js';
import {
  type IdentifiedReading,
  type ReadingInput,
  type ReadingResult,
  type RejectedReading,
  type SendReadingResult,
  type SendReadingsOptions,
  type SendReadingsResult,
  identify,
} from './readings.js';
import { answerLost, backoffMs, isRetryable, type RetryOptions, retryPolicy, sleep } from './retry.js';
import { Sequencer, type SequenceStore } from './sequence.js';
import type { CallOptions, TransportConfig } from './transport.js';
import { createWatch, type Watch } from './watch.js';

export interface EnergyPipelineClientOptions {
  /** Base URL of the ingest API, e.g. `https://ingest.example.com`. */
  ingestUrl: string;
  /** Base URL of the processor API; needed only for `client.processor`. */
  processUrl?: string;
  /** Sent as `Authorization: Bearer <apiKey>` to ingest, and to the processor too unless `processApiKey` is set. */
  apiKey?: string;
  /**
   * Key for the processor routes, when it differs from the ingest key (for example a `read` or
   * `admin` key where ingest gets a `write` one).
   * @default apiKey
   */
  processApiKey?: string;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * Bound on one request, answer included, in ms; each attempt gets its own. A call therefore
   * takes at most about `retry.maxElapsedMs + timeoutMs`.
   * @default 10000
   */
  timeoutMs?: number;
  /** Backoff and budget of retries; see {@link RetryOptions}. */
  retry?: RetryOptions;
  /**
   * Most readings per POST /readings/batch; `sendReadings` splits larger arrays. Keep it at or
   * below the server's `BATCH_MAX_READINGS`.
   * @default 1000
   */
  batchSize?: number;
  /**
   * Most bytes of JSON in one POST /readings/batch body; `sendReadings` and the buffer split
   * batches by this as well as by `batchSize`. Keep it below the server's `BODY_LIMIT_BYTES`
   * (1 MiB by default), which the server applies after gzip decompression.
   * @default 1000000
   */
  maxBatchBytes?: number;
  /**
   * Gzip ingest request bodies of at least this many bytes (`Content-Encoding: gzip`); 0 never
   * does. Processor requests are never gzipped (their bodies are small).
   * @default 1024
   */
  gzipMinBytes?: number;
  /**
   * Where the per-device `seq` counters are persisted. Rarely set by hand: a buffer whose
   * `store` is a spool (`openSpool`) persists the client's counters in it.
   * @default none: each device starts at the clock in microseconds (see the README)
   */
  sequenceStore?: SequenceStore;
  /**
   * The fetch implementation, e.g. one with a proxy agent.
   * @default globalThis.fetch
   */
  fetch?: typeof globalThis.fetch;
  /** Called before each retry wait, for logs. */
  onRetry?: TransportConfig['onRetry'];
}

/**
 * The SDK's one entry point.
 *
 * ```ts
 * const client = new EnergyPipelineClient({ ingestUrl: 'http://localhost:8000', apiKey: process.env.API_KEY });
 * await client.sendReading({ site_id: 'site-1', device_id: 'meter-1', power_reading: 1500, timestamp: new Date().toISOString() });
 * ```
 */
export class EnergyPipelineClient {
  /** Every ingest route as the contract defines it, with retries and typed errors. */
  readonly ingest: ContractClient<IngestContract>;
  readonly batchSize: number;
  readonly maxBatchBytes: number;
  private readonly transport: TransportConfig;
  private readonly processHeaders: Record<string, string>;
  private readonly processUrl: string | undefined;
  private readonly sequencer = new Sequencer();
  private processClient: ContractClient<ProcessContract> | undefined;
  private watchClient: Watch | undefined;

  constructor(options: EnergyPipelineClientOptions) {
    if (!options.ingestUrl) throw new TypeError('ingestUrl is required');
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new TypeError('No fetch available: pass options.fetch');
    this.transport = {
      timeoutMs: options.timeoutMs ?? 10_000,
      retry: retryPolicy(options.retry),
      fetch: fetchImpl.bind(globalThis),
      gzipMinBytes: options.gzipMinBytes ?? 1024,
      onRetry: options.onRetry,
    };
    this.batchSize = positiveInt(options.batchSize ?? 1000, 'batchSize');
    this.maxBatchBytes = positiveInt(options.maxBatchBytes ?? 1_000_000, 'maxBatchBytes');
    if (!Number.isInteger(this.transport.gzipMinBytes) || this.transport.gzipMinBytes < 0) {
      throw new RangeError('gzipMinBytes must be a non-negative integer');
    }
    const bearer = (key: string | undefined): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});
    this.processHeaders = { ...options.headers, ...bearer(options.processApiKey ?? options.apiKey) };
    this.processUrl = options.processUrl;
    if (options.sequenceStore) this.sequencer.attach(options.sequenceStore);
    this.ingest = createContractClient(ingestContract, {
      baseUrl: options.ingestUrl,
      headers: { ...options.headers, ...bearer(options.apiKey) },
      transport: this.transport,
      // Safe to resend: every reading carries a reading_id the server deduplicates on.
      idempotentRoutes: ['postReading', 'postReadingsBatch'],
    });
  }

  /**
   * Every processor route as the contract defines it (queries, dead letters, health, metrics),
   * with retries and typed errors. Needs `processUrl`.
   */
  get processor(): ContractClient<ProcessContract> {
    if (!this.processUrl) throw new TypeError('processUrl is required for processor routes');
    this.processClient ??= createContractClient(processContract, {
      baseUrl: this.processUrl,
      headers: this.processHeaders,
      // The processor does not take gzip bodies.
      transport: { ...this.transport, gzipMinBytes: 0 },
    });
    return this.processClient;
  }

  /**
   * The processor's live subscriptions (tRPC over Server-Sent Events, at `processUrl`/trpc) as
   * async iterables, typed from its router: `site(id)`, `tail(filter)`, `pipeline()`, `fleet()`.
   * They reconnect by themselves and resume from the last event; the `processApiKey` (or `apiKey`)
   * goes in the Authorization header. Needs `processUrl`.
   *
   * ```ts
   * for await (const { data } of client.watch.site('site-001', { signal })) {
   *   if (data.type === 'snapshot') console.log(`${data.site.power_w} W now`);
   * }
   * ```
   */
  get watch(): Watch {
    if (!this.processUrl) throw new TypeError('processUrl is required for watch');
    this.watchClient ??= createWatch({
      baseUrl: this.processUrl,
      headers: this.processHeaders,
      fetch: this.transport.fetch,
      retry: this.transport.retry,
    });
    return this.watchClient;
  }

  /**
   * Sends one reading; resolves once it is durably queued. Retries as configured. Throws the
   * typed error of an answer that refuses it; an `out_of_order` one has `unconfirmed: true` when an
   * earlier attempt of this call went unanswered, so the reading may be stored from that attempt.
   */
  async sendReading(reading: ReadingInput, options: CallOptions = {}): Promise<SendReadingResult> {
    const body = identify(reading, this.sequencer);
    const answer = await this.ingest.postReading({ body, signal: options.signal });
    return { reading_id: body.reading_id, stream_id: answer.stream_id };
  }

  /**
   * Sends readings in batches of at most `batchSize` readings and `maxBatchBytes` bytes, in order. Readings the server could not store for
   * now (`unavailable`) are resent, alone, within the retry budget; accepted ones never are.
   *
   * Resolves with one result per reading, in the order given: check `rejected`. A batch that
   * still fails once the budget is spent ends the call: it and the batches after it are reported
   * as rejected and `retryable`. A reading whose resend after a lost answer is too old for the
   * server to check is `unconfirmed`, not rejected (see `UnconfirmedReading`). Throws only
   * for errors that concern every reading (auth, a request the server refuses as a whole).
   */
  async sendReadings(readings: readonly ReadingInput[], options: SendReadingsOptions = {}): Promise<SendReadingsResult> {
    const items = readings.map((r) => identify(r, this.sequencer));
    const sizes = items.map(readingBytes);
    const results: ReadingResult[] = new Array(items.length);
    // Per reading: an attempt, in this call or an earlier one, got no answer and may have stored it.
    const lost = items.map((r) => options.unanswered?.has(r.reading_id) ?? false);
    for (let start = 0, n = 0; start < items.length; start += n) {
      n = fitBatch((i) => sizes[start + i]!, items.length - start, this.batchSize, this.maxBatchBytes);
      const indexes = Array.from({ length: n }, (_, i) => start + i);
      const failure = await this.sendChunk(items, indexes, results, lost, options);
      if (failure) {
        for (let i = start; i < items.length; i++) {
          results[i] ??= rejected(i, items[i]!, failure.kind, failure.message, lost[i]!);
        }
        break;
      }
    }
    const accepted = results.filter((r) => r.status === 'accepted').length;
    const unconfirmed = results.filter((r) => r.status === 'unconfirmed').length;
    return { accepted, rejected: results.length - accepted - unconfirmed, unconfirmed, results };
  }

  /** Ingest liveness and Redis reachability; a 503 resolves too, with `status: 'unavailable'`. */
  health(options: CallOptions = {}) {
    return this.ingest.health({ signal: options.signal });
  }

  /** Ingest stream and reading counters. */
  metrics(options: CallOptions = {}) {
    return this.ingest.metrics({ signal: options.signal });
  }

  /**
   * A buffer that batches readings by size and by interval; see {@link BufferOptions}. For a
   * spool that survives restarts, use `openSpool` from `@energy-pipeline/client/node`.
   */
  buffer(options: BufferOptions = {}): ReadingBuffer {
    // Numbers handed out from now on must be above those of the readings in the store.
    if (options.store?.sequence) this.persistSequence(options.store.sequence);
    const setup = { identify: (r: ReadingInput) => this.identify(r), batchSize: this.batchSize, maxBatchBytes: this.maxBatchBytes };
    return new ReadingBuffer((readings, sendOptions) => this.sendReadings(readings, sendOptions), setup, options);
  }

  /**
   * Gives a reading its `reading_id` and `seq` now, as `sendReading` would; the buffer calls it
   * before storing a reading. A reading that already has them keeps them.
   */
  identify(reading: ReadingInput): IdentifiedReading {
    return identify(reading, this.sequencer);
  }

  /**
   * Persists the per-device `seq` counters in `store` from now on (a buffer does this with its
   * spool). One client numbers in one store; a second, different one throws.
   */
  persistSequence(store: SequenceStore): void {
    this.sequencer.attach(store);
  }

  /**
   * Returns the error that ended the chunk's retries, or undefined once every reading has a
   * result. Marks in `lost` the readings of an attempt that went unanswered.
   */
  private async sendChunk(
    items: IdentifiedReading[],
    indexes: number[],
    results: ReadingResult[],
    lost: boolean[],
    options: CallOptions,
  ): Promise<EnergyPipelineError | undefined> {
    const policy = this.transport.retry;
    const started = Date.now();
    let pending = indexes;
    for (let round = 1; ; round++) {
      let answer: { results: BatchItemResult[] };
      const sent = pending;
      const markLost = (err: EnergyPipelineError) => {
        if (answerLost(err) || err.earlierAnswerLost) for (const i of sent) lost[i] = true;
      };
      try {
        answer = await this.ingest.postReadingsBatch({
          body: { readings: sent.map((i) => items[i]) },
          signal: options.signal,
          onRetry: ({ error }) => markLost(error),
        });
      } catch (err) {
        if (err instanceof EnergyPipelineError) markLost(err);
        if (err instanceof EnergyPipelineError && isRetryable(err)) return err;
        throw err;
      }
      const again: number[] = [];
      for (const item of answer.results) {
        const index = sent[item.index]!;
        if (item.status === 'rejected' && item.error === 'unavailable') {
          if (item.outcome === 'unknown') lost[index] = true;
          again.push(index);
        } else results[index] = fromWire(index, items[index]!, item, lost[index]!);
      }
      if (again.length === 0) return undefined;
      const delayMs = backoffMs(round, policy);
      if (round >= policy.maxAttempts || Date.now() - started + delayMs > policy.maxElapsedMs) {
        for (const i of again) {
          const message = lost[i] ? 'Not confirmed: the server stayed unavailable, and an attempt may have stored it' : 'Not stored: the server stayed unavailable';
          results[i] = rejected(i, items[i]!, 'unavailable', message, lost[i]!);
        }
        return undefined;
      }
      await sleep(delayMs, options.signal);
      pending = again;
    }
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

/** `lostBefore`: an earlier attempt of this reading went unanswered, so it may be stored from then. */
function fromWire(index: number, reading: IdentifiedReading, item: BatchItemResult, lostBefore: boolean): ReadingResult {
  if (item.status === 'accepted') {
    return { index, reading_id: reading.reading_id, status: 'accepted', stream_id: item.stream_id, duplicate: item.duplicate };
  }
  if (item.error === 'out_of_order' && item.stored_before === 'unknown' && lostBefore) {
    const { reading_id } = reading;
    return { index, reading_id, status: 'unconfirmed', error: 'out_of_order', message: item.message, stored_before: 'unknown', retryable: false };
  }
  const result = rejected(index, reading, item.error, item.message, lostBefore);
  // Paths are within the reading (`timestamp`), so they hold however batches were split or resent.
  if (item.issues) result.issues = item.issues;
  if (item.outcome) result.outcome = item.outcome;
  if (item.stored_before) result.stored_before = item.stored_before;
  return result;
}

/** A retryable result says whether an attempt may have stored the reading (`outcome`). */
function rejected(index: number, reading: IdentifiedReading, error: string, message: string, lost: boolean): RejectedReading {
  const retryable = isRetryable(error);
  const result: RejectedReading = { index, reading_id: reading.reading_id, status: 'rejected', error, message, retryable };
  if (retryable) result.outcome = lost ? 'unknown' : 'not_stored';
  return result;
}
