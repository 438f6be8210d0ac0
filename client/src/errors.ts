import {
  codeOfStatus,
  type ErrorCode,
  ErrorCodeSchema,
  type Issue,
  type StoredBefore,
  StoredBeforeSchema,
  type WriteOutcome,
  WriteOutcomeSchema,
} from '@energy-pipeline/contract';

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
  /** The body's `outcome`, on a failed write. */
  outcome?: WriteOutcome | undefined;
  /** The body's `stored_before`, on a reading not stored now that cannot be checked against earlier copies. */
  storedBefore?: StoredBefore | undefined;
  /** The parsed response body, for routes whose error bodies carry more than the code. */
  body?: unknown;
  /** How long the server asked to wait (Retry-After), in ms. */
  retryAfterMs?: number | undefined;
  /** Requests made before giving up, retries included. */
  attempts?: number | undefined;
  /** For a {@link NetworkError}: whether the request may have reached the server (false: the connection was never made). */
  sent?: boolean | undefined;
  cause?: unknown;
}

/** Base class of every error the SDK throws; `kind` tells them apart. */
export abstract class EnergyPipelineError extends Error {
  abstract readonly kind: ErrorKind;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly body: unknown;
  readonly retryAfterMs: number | undefined;
  /**
   * What the body names, when it names fields: each wrong field of a `validation_failed`, each
   * field of a `conflict` that differs from the reading already stored under its identity.
   */
  readonly issues: Issue[];
  /**
   * On a failed write, the body's `outcome`: `not_stored`, or `unknown` when the server may have
   * stored it anyway (it is retried like any `unavailable`; the reading_id makes that safe).
   */
  readonly outcome: WriteOutcome | undefined;
  /**
   * The body's `stored_before`: `unknown` on a reading not stored now that the server cannot check
   * against earlier copies (`out_of_order`: older than what it remembers of the device;
   * `internal_error`: the device's dedupe state is unreadable). Whether a copy sent before was
   * stored is then unknown; see {@link EnergyPipelineError.unconfirmed}.
   */
  readonly storedBefore: StoredBefore | undefined;
  /** Set by the retry loop once it gives up. */
  attempts: number;
  /**
   * Set by the retry loop: an earlier attempt of this call got no answer that says what became of
   * it (a timeout, a dropped connection, a 502 or 504 from a proxy, a 503 with `outcome: unknown`),
   * so the server may have acted on it.
   */
  earlierAnswerLost = false;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.status = details.status;
    this.code = details.code;
    this.body = details.body;
    this.retryAfterMs = details.retryAfterMs;
    this.issues = details.issues ?? [];
    this.outcome = details.outcome;
    this.storedBefore = details.storedBefore;
    this.attempts = details.attempts ?? 1;
  }

  /**
   * Not a refusal: the reading may well be stored from an earlier attempt of this call, whose
   * answer was lost (`earlierAnswerLost`); the server answered the resend `out_of_order` with
   * `stored_before: unknown` because it is now too old to be checked against that copy. Sending
   * it again cannot tell either.
   */
  get unconfirmed(): boolean {
    return this.kind === 'out_of_order' && this.storedBefore === 'unknown' && this.earlierAnswerLost;
  }
}

/** 400 `validation_failed`: the request (or a reading) is invalid; `issues` names each wrong field. Not retried. */
export class ValidationError extends EnergyPipelineError {
  readonly kind = 'validation_failed' as const;
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
 * `internal_error`, ...), from the body or else from the status. Not retried. For a reading
 * (409): `out_of_order` (older than what the server remembers of its device; see `storedBefore`
 * and `unconfirmed`), `conflict` (a different reading is stored under its identity; `issues` name
 * the fields that differ), `window_full` (its device sent more readings without `seq` in five
 * minutes than are remembered: number them with `seq`).
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
  /**
   * Whether the request may have reached the server: false when no connection was made (refused,
   * DNS failed, unreachable), true when one was and then failed (reset, closed).
   */
  readonly sent: boolean;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details);
    this.sent = details.sent ?? true;
  }
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

function isErrorBody(body: unknown): body is { error: string; message: string; issues?: Issue[]; outcome?: unknown; stored_before?: unknown } {
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
    details.outcome = WriteOutcomeSchema.safeParse(body.outcome).data;
    details.storedBefore = StoredBeforeSchema.safeParse(body.stored_before).data;
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
