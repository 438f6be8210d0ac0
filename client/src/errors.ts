import type { Issue } from '@energy-pipeline/contract';

/** What went wrong, for `switch (err.kind)`; stable across versions. */
export type ErrorKind = 'validation' | 'auth' | 'rate_limited' | 'unavailable' | 'http' | 'network' | 'timeout';

interface ErrorDetails {
  /** HTTP status, when the server answered. */
  status?: number | undefined;
  /** The `error` code of the body, e.g. `validation_failed`, when the server sent one. */
  code?: string | undefined;
  issues?: Issue[] | undefined;
  /** The parsed response body, for routes whose error bodies carry more than the code. */
  body?: unknown;
  /** How long the server asked to wait (Retry-After), in ms. */
  retryAfterMs?: number | undefined;
  /** Requests made before giving up, retries included. */
  attempts?: number | undefined;
  cause?: unknown;
}

/** Base class of every error the SDK throws; `kind` tells them apart. */
export abstract class EnergyPipelineError extends Error {
  abstract readonly kind: ErrorKind;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly body: unknown;
  readonly retryAfterMs: number | undefined;
  /** Set by the retry loop once it gives up. */
  attempts: number;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.status = details.status;
    this.code = details.code;
    this.body = details.body;
    this.retryAfterMs = details.retryAfterMs;
    this.attempts = details.attempts ?? 1;
  }

  /** Whether sending the same request again later may succeed. */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

/** Kinds that a later attempt may get past: the server or the network, not the request. */
const RETRYABLE: ReadonlySet<ErrorKind> = new Set(['rate_limited', 'unavailable', 'network', 'timeout']);

/** 400: the request (or a reading) is invalid; `issues` names each wrong field. Not retried. */
export class ValidationError extends EnergyPipelineError {
  readonly kind = 'validation' as const;
  readonly issues: Issue[];
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details);
    this.issues = details.issues ?? [];
  }
}

/** 401 (no or unknown API key) or 403 (the key may not do this). Not retried. */
export class AuthError extends EnergyPipelineError {
  readonly kind = 'auth' as const;
}

/** 429: too many requests; retried after `retryAfterMs` until the retry budget runs out. */
export class RateLimitedError extends EnergyPipelineError {
  readonly kind = 'rate_limited' as const;
}

/** 502, 503 or 504: the service or what it depends on (Redis) is down or overloaded. Retried. */
export class UnavailableError extends EnergyPipelineError {
  readonly kind = 'unavailable' as const;
}

/** Any other non-2xx answer (404, 413, 415, 500, ...). Not retried. */
export class HttpError extends EnergyPipelineError {
  readonly kind = 'http' as const;
}

/** The request did not get an answer: DNS, refused or reset connection. Retried. */
export class NetworkError extends EnergyPipelineError {
  readonly kind = 'network' as const;
}

/** No answer within `timeoutMs`. Retried: the reading_id makes a resend safe. */
export class TimeoutError extends EnergyPipelineError {
  readonly kind = 'timeout' as const;
}

/** Thrown by `ReadingBuffer.add()` when the buffer is full and its policy is `reject`. */
export class BufferFullError extends Error {
  readonly kind = 'buffer_full' as const;
  constructor(readonly capacity: number) {
    super(`The reading buffer is full (${capacity} readings); the reading was not accepted`);
    this.name = 'BufferFullError';
  }
}

/** Thrown by `ReadingBuffer.add()` after `close()`. */
export class BufferClosedError extends Error {
  readonly kind = 'buffer_closed' as const;
  constructor() {
    super('The reading buffer is closed');
    this.name = 'BufferClosedError';
  }
}

function isErrorBody(body: unknown): body is { error: string; message: string; issues?: Issue[] } {
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string';
}

/** Maps a non-2xx answer to its typed error. */
export function errorFromResponse(status: number, body: unknown, retryAfterMs?: number): EnergyPipelineError {
  const details: ErrorDetails = { status, body, retryAfterMs };
  let message = `HTTP ${status}`;
  if (isErrorBody(body)) {
    details.code = body.error;
    details.issues = body.issues;
    message = body.message;
  }
  if (status === 400) return new ValidationError(message, details);
  if (status === 401 || status === 403) return new AuthError(message, details);
  if (status === 429) return new RateLimitedError(message, details);
  if (status >= 502 && status <= 504) return new UnavailableError(message, details);
  return new HttpError(message, details);
}
