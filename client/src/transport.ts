import type { ApiFetcher, ApiFetcherArgs } from '@ts-rest/core';
import { type EnergyPipelineError, NetworkError, TimeoutError, errorFromResponse } from './errors.js';
import { isRetryable, parseRetryAfter, type RetryHooks, type RetryPolicy, withRetry } from './retry.js';

/** What every request of one client shares. */
export interface TransportConfig {
  timeoutMs: number;
  retry: RetryPolicy;
  fetch: typeof globalThis.fetch;
  /** Gzip request bodies of at least this many bytes (UTF-8 JSON); 0 turns compression off. */
  gzipMinBytes: number;
  onRetry?: RetryHooks['onRetry'];
}

export interface RawResponse {
  status: number;
  body: unknown;
  headers: Headers;
}

/** Whether a failed request may be sent again without risking a second effect. */
export type RetryMode = 'idempotent' | 'refused-only';

async function gzip(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  if (!(res.headers.get('content-type') ?? '').includes('json')) return text;
  try {
    return JSON.parse(text);
  } catch {
    // A proxy's broken error page must not hide the status it came with.
    return text;
  }
}

/** Connection failures before any byte of the request left: the server cannot have acted on it. */
const NOT_CONNECTED: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The fetcher ts-rest calls: plain fetch plus gzip and typed network errors. ts-rest builds the
 * URL, query and JSON body from the contract; timeouts and retries wrap it in `callWithRetry`.
 */
export function createFetcher(config: TransportConfig): ApiFetcher {
  return async (args: ApiFetcherArgs): Promise<RawResponse> => {
    const signal = args.fetchOptions?.signal ?? undefined;
    const headers = { ...args.headers };
    let body: RequestInit['body'] = args.body;
    // A string's length counts UTF-16 units; only a long enough one can reach the threshold in bytes.
    if (config.gzipMinBytes > 0 && typeof body === 'string' && body.length * 3 >= config.gzipMinBytes) {
      const bytes = new TextEncoder().encode(body);
      if (bytes.byteLength >= config.gzipMinBytes) {
        body = await gzip(bytes);
        headers['content-encoding'] = 'gzip';
      }
    }
    try {
      const res = await config.fetch(args.path, { ...args.fetchOptions, method: args.method, headers, body });
      return { status: res.status, body: await readBody(res), headers: res.headers };
    } catch (err) {
      if (signal?.aborted) {
        const reason: unknown = signal.reason;
        if (reason instanceof Error && reason.name === 'TimeoutError') {
          throw new TimeoutError(`No answer from ${args.method} ${args.path} in time`, { cause: reason });
        }
        throw reason; // the caller aborted: not ours to retry
      }
      const cause = (err as { cause?: { code?: string } }).cause;
      const detail = cause?.code ?? (err as Error).message;
      const sent = !NOT_CONNECTED.has(cause?.code ?? '');
      throw new NetworkError(`${args.method} ${args.path} failed: ${detail}`, { cause: err, sent });
    }
  };
}

export interface CallOptions {
  /** Cancels the call, waits between retries included. */
  signal?: AbortSignal | undefined;
}

/** What a route call takes besides {@link CallOptions}. */
export interface RouteCallOptions extends CallOptions {
  /** Called before each retry wait of this call, after the client's `onRetry`. */
  onRetry?: RetryHooks['onRetry'] | undefined;
}

function isErrorBody(body: unknown): boolean {
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string';
}

/**
 * Runs one ts-rest call with a per-attempt timeout and the retry policy. Returns the body of a 2xx
 * answer, or of another answer the route documents with a body of its own (a health route's 503);
 * throws the typed error for everything else.
 *
 * `refused-only` retries only answers saying the request was not processed (429, 503), for
 * routes where a resend after a lost answer could act twice.
 */
export function callWithRetry<T>(
  config: TransportConfig,
  documented: ReadonlySet<number>,
  call: (signal: AbortSignal) => Promise<RawResponse>,
  mode: RetryMode,
  options: RouteCallOptions = {},
): Promise<T> {
  const attempt = async (): Promise<T> => {
    const timeout = AbortSignal.timeout(config.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const res = await call(signal);
    if (res.status >= 200 && res.status < 300) return res.body as T;
    if (documented.has(res.status) && !isErrorBody(res.body)) return res.body as T;
    throw errorFromResponse(res.status, res.body, parseRetryAfter(res.headers.get('retry-after')));
  };
  const retryable = mode === 'idempotent' ? isRetryable : refusedOnly;
  const onRetry: RetryHooks['onRetry'] =
    config.onRetry && options.onRetry
      ? (info) => {
          config.onRetry!(info);
          options.onRetry!(info);
        }
      : (config.onRetry ?? options.onRetry);
  return withRetry(config.retry, attempt, { retryable, onRetry, signal: options.signal });
}

/**
 * Only answers saying the request was not processed (429, 503). Without an answer (a network
 * error, a timeout) nobody knows whether the server acted.
 */
function refusedOnly(err: EnergyPipelineError): boolean {
  return isRetryable(err) && (err.status === 429 || err.status === 503);
}
