import { z } from 'zod';
import { withExamples } from './examples.js';

/**
 * Every error code of the pipeline, one name per idea: the wire error body's `error`, a batch
 * item's `error`, a dead letter's `reason`, the `reason` label of rejection counters, and the
 * SDK's `err.kind` all take their values from here.
 */
export const ErrorCodeSchema = z.enum([
  /** 400: a field is wrong; `issues` name each one. */
  'validation_failed',
  /** 400: the request could not be read at all (malformed JSON, a bad header). */
  'bad_request',
  /** 401: no API key, or not a known one. */
  'unauthorized',
  /** 403: the key lacks the scope, or the site. */
  'forbidden',
  /** 404 */
  'not_found',
  /** 405 */
  'method_not_allowed',
  /** 406 */
  'not_acceptable',
  /** 408: the request body did not arrive in time. */
  'request_timeout',
  /**
   * 409: a reading older than what is remembered of its device: not stored now, and it cannot be
   * checked against earlier copies (`stored_before: unknown`).
   */
  'out_of_order',
  /** 409: a different reading was stored under this reading's identity (device and seq or timestamp); `issues` name what differs. */
  'conflict',
  /** 409: the device has as many readings without seq in this span as are remembered; number them with seq. */
  'window_full',
  /** 413 */
  'payload_too_large',
  /** 415 */
  'unsupported_media_type',
  /** 429 */
  'rate_limited',
  /** 431 */
  'headers_too_large',
  /** 500: a bug; the details are in the server's log, not the answer. */
  'internal_error',
  /** 503: Redis cannot serve, or the pipeline sheds load; retry later (see `outcome` on writes). */
  'unavailable',
  /** A dead letter: delivered MAX_DELIVERIES times without being applied. */
  'max_deliveries',
  /** A dead letter: adding it would take a sum past the int64 range of the aggregates. */
  'overflow',
]);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

/** The code an HTTP status is answered with when nothing more precise applies; the one status→code map. */
const CODE_OF_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
  500: 'internal_error',
  503: 'unavailable',
};

export function codeOfStatus(status: number): ErrorCode {
  return CODE_OF_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
}

export const IssueSchema = z.object({
  /** Which part of the request is wrong. */
  in: z.enum(['body', 'query', 'params', 'headers']),
  /**
   * Dotted path to the field, e.g. `power_reading`, or `readings` for a batch body; empty for the
   * whole part. A batch item's issues are within its reading (`timestamp`, not
   * `readings.3.timestamp`): the item's result carries its `index`.
   */
  path: z.string(),
  message: z.string(),
});
export type Issue = z.infer<typeof IssueSchema>;

/**
 * Whether a write that failed may have been stored anyway. `not_stored`: nothing was stored.
 * `unknown`: the store did not answer in time and may have kept it. Resending the same reading is
 * safe: its identity (device and seq, or device and timestamp) makes the repeat recognisable.
 */
export const WriteOutcomeSchema = z.enum(['not_stored', 'unknown']);
export type WriteOutcome = z.infer<typeof WriteOutcomeSchema>;

/**
 * On a reading not stored now whose earlier copies cannot be checked (`out_of_order`: older than
 * what is remembered of its device; `internal_error`: its device's dedupe state is unreadable):
 * whether a copy sent before was stored is `unknown`. A resend after a lost answer gets this when
 * its first copy may well be stored: it is not a refusal of that copy.
 */
export const StoredBeforeSchema = z.enum(['unknown']);
export type StoredBefore = z.infer<typeof StoredBeforeSchema>;

/** The one error body every route answers with, whatever the status. */
export const ErrorSchema = withExamples(
  z
    .object({
      error: ErrorCodeSchema.describe('Stable machine-readable code, e.g. validation_failed, unavailable'),
      message: z.string().describe('Human-readable summary; names the wrong fields for validation errors'),
      issues: z.array(IssueSchema).optional(),
      outcome: WriteOutcomeSchema.optional().describe(
        'On a failed write: `not_stored`, or `unknown` when the store did not answer in time and may have kept it',
      ),
      stored_before: StoredBeforeSchema.optional().describe(
        'On a reading not stored now that cannot be checked against earlier copies (out_of_order, internal_error): ' +
          'whether a copy sent before was stored is unknown',
      ),
    })
    .describe('Error'),
  {
    error: 'validation_failed',
    message: 'Invalid request: power_reading must be a finite number of watts',
    issues: [{ in: 'body', path: 'power_reading', message: 'must be a finite number of watts' }],
  },
);
export type ErrorBody = z.infer<typeof ErrorSchema>;

interface SchemaIssueLike {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
  readonly code?: string;
  readonly keys?: readonly string[];
}

function pathToString(path: SchemaIssueLike['path']): string {
  return (path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.');
}

/**
 * Turns zod or Standard Schema issues into ours. An unknown key gets an issue of its own whose
 * path is that key, so a typo such as `power_readng` is named where the client will look.
 */
export function toIssues(location: Issue['in'], issues: readonly SchemaIssueLike[]): Issue[] {
  return issues.flatMap((issue) => {
    const base = pathToString(issue.path);
    if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
      return issue.keys.map((key) => ({
        in: location,
        path: base ? `${base}.${key}` : key,
        message: 'is not a known field',
      }));
    }
    return [{ in: location, path: base, message: issue.message }];
  });
}

export function validationError(issues: Issue[]): ErrorBody & { error: 'validation_failed' } {
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.path || i.in} ${i.message}`)
    .join('; ');
  const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
  return { error: 'validation_failed', message: `Invalid request: ${summary}${more}`, issues };
}
