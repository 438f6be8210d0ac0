import { EnergyPipelineError, NetworkError, TimeoutError, UnavailableError } from './errors.js';

/** When and how often a failed request is sent again. */
export interface RetryOptions {
  /**
   * Most requests per call, the first included; 1 turns retries off.
   * @default 5
   */
  maxAttempts?: number;
  /**
   * Time budget of one call, in ms: no retry starts past it, and a wait that would end past it
   * is not begun (the last error is thrown instead). The attempt in flight still gets its full
   * `timeoutMs`.
   * @default 30000
   */
  maxElapsedMs?: number;
  /**
   * Backoff before the first retry; it doubles with every further retry, up to `maxDelayMs`.
   * @default 200
   */
  baseDelayMs?: number;
  /**
   * Cap of the computed backoff. A longer Retry-After from the server is still honoured.
   * @default 10000
   */
  maxDelayMs?: number;
}

export type RetryPolicy = Required<RetryOptions>;

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, maxElapsedMs: 30_000, baseDelayMs: 200, maxDelayMs: 10_000 };

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY, ...options };
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`retry.${name} must be a non-negative number`);
  }
  if (policy.maxAttempts < 1) throw new RangeError('retry.maxAttempts must be at least 1');
  return policy;
}

/** How the waits between attempts grow: from `baseDelayMs`, doubling with every retry, up to `maxDelayMs`. */
export interface BackoffShape {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * How a wait is drawn below its bound. `full` (AWS Architecture Blog, "Exponential Backoff and
 * Jitter"): uniform between 0 and the bound, which spreads the retries of many devices that
 * failed at the same moment. `equal`: uniform between half the bound and the bound, for a
 * background loop that must not come back at once.
 */
export type Jitter = 'full' | 'equal';

/**
 * The SDK's one backoff: the wait before retry `retry` (counting from 1), for requests, batch
 * rounds, subscriptions and the buffer's background sends alike.
 */
export function backoffMs(
  retry: number,
  shape: BackoffShape,
  random: () => number = Math.random,
  jitter: Jitter = 'full',
): number {
  const bound = Math.min(shape.maxDelayMs, shape.baseDelayMs * 2 ** (retry - 1));
  return jitter === 'full' ? Math.floor(random() * bound) : bound / 2 + random() * (bound / 2);
}

/** Kinds a later attempt may get past: the server or the network, not the request. */
const RETRYABLE_KINDS: ReadonlySet<string> = new Set(['rate_limited', 'unavailable', 'network', 'timeout']);

/**
 * Whether an error, or a rejected reading's `error` code, says that sending the same thing again
 * later may succeed. The retry loop's default predicate, and the one definition of retryable.
 */
export function isRetryable(err: unknown): boolean {
  if (typeof err === 'string') return RETRYABLE_KINDS.has(err);
  return err instanceof EnergyPipelineError && RETRYABLE_KINDS.has(err.kind);
}

/**
 * Whether a failed request may have been acted on all the same: it got no answer that says what
 * became of it. A timeout, a connection lost once made, a 502 or 504 (a proxy passed it on and
 * lost the answer), a 503 whose `outcome` is `unknown`. An answer that refuses the request (429,
 * a 503 saying `not_stored`, any 4xx) and a connection never made say it was not.
 */
export function answerLost(err: EnergyPipelineError): boolean {
  if (err instanceof TimeoutError) return true;
  if (err instanceof NetworkError) return err.sent;
  if (err instanceof UnavailableError) return err.status === 502 || err.status === 504 || err.outcome === 'unknown';
  return false;
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3); anything else is ignored. */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryContext {
  /** 1 for the first request. */
  attempt: number;
}

export interface RetryHooks {
  /**
   * Whether to try again after this error (the budget permitting).
   * @default isRetryable
   */
  retryable?: (err: EnergyPipelineError) => boolean;
  /** Called before each wait; for logging and tests. */
  onRetry?: (info: { attempt: number; delayMs: number; error: EnergyPipelineError }) => void;
  signal?: AbortSignal | undefined;
  random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, throws an error that is not `hooks.retryable`, or the budget
 * (attempts, total time) runs out; the error thrown last carries the attempt count, and
 * `earlierAnswerLost` when an attempt before it went unanswered (see {@link answerLost}).
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: (ctx: RetryContext) => Promise<T>,
  hooks: RetryHooks = {},
): Promise<T> {
  const started = Date.now();
  let lost = false;
  for (let n = 1; ; n++) {
    try {
      return await attempt({ attempt: n });
    } catch (err) {
      if (!(err instanceof EnergyPipelineError)) throw err;
      err.attempts = n;
      err.earlierAnswerLost = lost;
      lost ||= answerLost(err);
      if (!(hooks.retryable ?? isRetryable)(err) || n >= policy.maxAttempts) throw err;
      const delayMs = Math.max(err.retryAfterMs ?? 0, backoffMs(n, policy, hooks.random));
      if (Date.now() - started + delayMs > policy.maxElapsedMs) throw err;
      hooks.onRetry?.({ attempt: n, delayMs, error: err });
      await sleep(delayMs, hooks.signal);
    }
  }
}
