import { createTRPCClient, httpSubscriptionLink, TRPCClientError } from '@trpc/client';
import type { LiveRouter } from '@energy-pipeline/process/live';
import { EventSource } from 'eventsource';
import { EnergyPipelineError, errorFromResponse, NetworkError } from './errors.js';
import { backoffMs, isRetryable, type RetryPolicy, sleep } from './retry.js';

export interface WatchOptions {
  /** Ends the subscription: the loop over it finishes without an error. */
  signal?: AbortSignal | undefined;
  /**
   * Resume after this event id (the `id` of an event this subscription gave earlier, e.g. kept
   * across a restart of your program): nothing after it is missed while the processor's stream
   * still holds it (LIVE_RETENTION_S, 5 minutes by default); otherwise a `notice` comes first.
   */
  lastEventId?: string | undefined;
}

export interface WatchConfig {
  baseUrl: string;
  headers: Record<string, string>;
  fetch: typeof globalThis.fetch;
  retry: RetryPolicy;
}

interface Failure {
  status: number;
  body: unknown;
}

/**
 * One tRPC client per subscription, over SSE (httpSubscriptionLink). EventSource implementations
 * in browsers cannot send headers, so the `eventsource` package (fetch-based, in Node and
 * browsers alike) sends the API key as `Authorization: Bearer`, never in the URL, where proxies
 * and access logs would keep it. The fetch wrapper also keeps the answer of a refused connection,
 * so that a 401 becomes the SDK's AuthError rather than a bare "connection failed".
 */
function subscriptionClient(config: WatchConfig) {
  const failure: { last: Failure | null } = { last: null };
  const fetchWithKey: typeof globalThis.fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    for (const [k, v] of Object.entries(config.headers)) headers.set(k, v);
    const res = await config.fetch(input, { ...init, headers });
    if (!res.ok) {
      const text = await res.clone().text().catch(() => '');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      failure.last = { status: res.status, body };
    } else {
      failure.last = null;
    }
    return res;
  };
  const trpc = createTRPCClient<LiveRouter>({
    links: [
      httpSubscriptionLink({
        url: `${config.baseUrl.replace(/\/+$/, '')}/trpc`,
        EventSource,
        eventSourceOptions: () => ({ fetch: fetchWithKey }),
      }),
    ],
  });
  return { trpc, failure };
}

/** The SDK's error for what ended a subscription attempt. */
function watchError(err: unknown, failure: Failure | null): EnergyPipelineError {
  if (err instanceof EnergyPipelineError) return err;
  if (failure) return errorFromResponse(failure.status, failure.body);
  if (err instanceof TRPCClientError) {
    const data = err.data as { httpStatus?: number; code?: string; reason?: string } | undefined;
    const status = data?.httpStatus ?? 500;
    // The router's inputs are zod schemas: tRPC's BAD_REQUEST is the contract's validation_failed.
    const code = data?.reason ?? (data?.code === 'BAD_REQUEST' ? 'validation_failed' : data?.code?.toLowerCase());
    return errorFromResponse(status, { error: code ?? 'error', message: err.message });
  }
  return new NetworkError(err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * Runs a subscription and keeps it running: a connection that drops is resumed by the
 * EventSource with the last event id; one that is refused or ended by the server with a
 * retryable error (the processor restarting or unavailable, a slow client dropped) is opened
 * again after a backoff, with the last event id, within the retry budget of the client (reset by
 * every event). Auth and validation errors end it at once, typed (AuthError, ValidationError).
 */
async function* keepRunning<T>(
  config: WatchConfig,
  options: WatchOptions,
  open: (trpc: ReturnType<typeof subscriptionClient>['trpc'], lastEventId: string | undefined, signal: AbortSignal) => AsyncIterable<T>,
): AsyncGenerator<T> {
  let lastEventId = options.lastEventId;
  let attempts = 0;
  let since = Date.now();
  for (;;) {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onAbort);
    const { trpc, failure } = subscriptionClient(config);
    try {
      if (options.signal?.aborted) return;
      for await (const event of open(trpc, lastEventId, controller.signal)) {
        attempts = 0;
        const id = (event as { id?: unknown }).id;
        if (typeof id === 'string') lastEventId = id;
        yield event;
      }
      return;
    } catch (err) {
      if (options.signal?.aborted) return;
      const e = watchError(err, failure.last);
      if (attempts === 0) since = Date.now();
      attempts += 1;
      const delay = backoffMs(attempts, config.retry);
      if (!isRetryable(e) || attempts >= config.retry.maxAttempts || Date.now() - since + delay > config.retry.maxElapsedMs) {
        e.attempts = attempts;
        throw e;
      }
      await sleep(delay, options.signal).catch(() => undefined);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }
}

/**
 * `client.watch`: the processor's live subscriptions as async iterables, typed from its tRPC
 * router (only the router's type is part of this package).
 *
 * ```ts
 * for await (const { id, data } of client.watch.site('site-001')) {
 *   if (data.type === 'snapshot') console.log(data.site.power_w, 'W now');
 * }
 * ```
 */
export function createWatch(config: WatchConfig) {
  return {
    /** A site's live figures (`snapshot`s), its readings as they arrive, and `notice`s; each with a tracked `id`. */
    site: (siteId: string, options: WatchOptions = {}) =>
      keepRunning(config, options, (trpc, lastEventId, signal) =>
        trpc.site.subscribe({ site_id: siteId, ...(lastEventId ? { lastEventId } : {}) }, { signal }),
      ),
    /** The readings as they arrive, all of them or one site's or device's; each event with a tracked `id`. */
    tail: (filter: { site_id?: string; device_id?: string } = {}, options: WatchOptions = {}) =>
      keepRunning(config, options, (trpc, lastEventId, signal) =>
        trpc.tail.subscribe({ ...filter, ...(lastEventId ? { lastEventId } : {}) }, { signal }),
      ),
    /** The pipeline's lag, pending entries, rates, consumers and dead letters per shard, once per interval. */
    pipeline: (options: Omit<WatchOptions, 'lastEventId'> = {}) =>
      keepRunning(config, options, (trpc, _lastEventId, signal) => trpc.pipeline.subscribe(undefined, { signal })),
    /** Every site (up to LIVE_FLEET_MAX_SITES) with its power now, energy today and quiet devices, once per interval. */
    fleet: (options: Omit<WatchOptions, 'lastEventId'> = {}) =>
      keepRunning(config, options, (trpc, _lastEventId, signal) => trpc.fleet.subscribe(undefined, { signal })),
  };
}

export type Watch = ReturnType<typeof createWatch>;
