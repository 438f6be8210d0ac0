import { codeOfStatus, type ErrorCode, ErrorCodeSchema, type Issue } from '@energy-pipeline/contract';

/**
 * What went wrong, for `switch (err.kind)`; stable across versions. When the server answered,
 * its error code as the contract defines it (`validation_failed`, `unauthorized`, `forbidden`,
 * `rate_limited`, `unavailable`, `not_found`, ...); when it did not, `network` or `timeout`.
 * Whether a kind is worth a retry is `isRetryable`'s to say, in retry.ts.
 */
export type ErrorKind = AnswerKind | 'network' | 'timeout';

/** The contract's codes an answer can carry (the others name dead letters). */
type AnswerKind = Exclude<ErrorCode, 'max_deliveries' | 'overflow'>;

/** Kinds with a class of their own; every other answer is an {@link HttpError}. */
type ClassKind = 'validation_failed' | 'unauthorized' | 'forbidden' | 'rate_limited' | 'unavailable';

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
}

/** 400 `validation_failed`: the request (or a reading) is invalid; `issues` names each wrong field. Not retried. */
export class ValidationError extends EnergyPipelineError {
  readonly kind = 'validation_failed' as const;
  readonly issues: Issue[];
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details);
    this.issues = details.issues ?? [];
  }
}

/** 401 `unauthorized` (no or unknown API key) or 403 `forbidden` (the key may not do this). Not retried. */
export class AuthError extends EnergyPipelineError {
  readonly kind: 'unauthorized' | 'forbidden';
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details);
    const code = details.code === 'forbidden' || details.code === 'unauthorized' ? details.code : undefined;
    this.kind = code ?? (details.status === 403 ? 'forbidden' : 'unauthorized');
  }
}

/** 429 `rate_limited`: too many requests; retried after `retryAfterMs` until the retry budget runs out. */
export class RateLimitedError extends EnergyPipelineError {
  readonly kind = 'rate_limited' as const;
}

/** 503 `unavailable`, or 502 and 504 from a proxy: the service or what it depends on (Redis) is down or overloaded. Retried. */
export class UnavailableError extends EnergyPipelineError {
  readonly kind = 'unavailable' as const;
}

/**
 * Any other non-2xx answer; `kind` is its code (`not_found`, `payload_too_large`,
 * `internal_error`, ...), from the body or else from the status. Not retried.
 */
export class HttpError extends EnergyPipelineError {
  readonly kind: Exclude<AnswerKind, ClassKind>;
  constructor(kind: Exclude<AnswerKind, ClassKind>, message: string, details: ErrorDetails = {}) {
    super(message, details);
    this.kind = kind;
  }
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

/**
 * The contract's code for an answer: the body's when it names one, else the status's. A 502 or
 * 504 comes from a proxy or gateway in front of the service, not from it: the service is
 * unavailable.
 */
function answerKind(status: number, body: unknown): AnswerKind {
  const sent = isErrorBody(body) ? ErrorCodeSchema.safeParse(body.error) : undefined;
  if (sent?.success && sent.data !== 'max_deliveries' && sent.data !== 'overflow') return sent.data;
  if (status === 502 || status === 504) return 'unavailable';
  return codeOfStatus(status) as AnswerKind;
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
  const kind = answerKind(status, body);
  switch (kind) {
    case 'validation_failed':
      return new ValidationError(message, details);
    case 'unauthorized':
    case 'forbidden':
      return new AuthError(message, details);
    case 'rate_limited':
      return new RateLimitedError(message, details);
    case 'unavailable':
      return new UnavailableError(message, details);
    default:
      return new HttpError(kind, message, details);
  }
}
