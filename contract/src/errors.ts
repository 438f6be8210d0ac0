import { z } from 'zod';

export const IssueSchema = z.object({
  /** Which part of the request is wrong. */
  in: z.enum(['body', 'query', 'params', 'headers']),
  /** Dotted path to the field, e.g. `power_reading` or `readings.3.timestamp`; empty for the whole part. */
  path: z.string(),
  message: z.string(),
});
export type Issue = z.infer<typeof IssueSchema>;

/**
 * Whether a write that failed may have been stored anyway. `not_stored`: nothing was stored.
 * `unknown`: the store did not answer in time and may have kept it; a resend is safe only when
 * the reading carries its identity (a `reading_id`), which makes the repeat recognisable.
 */
export const WriteOutcomeSchema = z.enum(['not_stored', 'unknown']);
export type WriteOutcome = z.infer<typeof WriteOutcomeSchema>;

/** The one error body every route answers with, whatever the status. */
export const ErrorSchema = z
  .object({
    error: z.string().describe('Stable machine-readable code, e.g. validation_failed, unavailable'),
    message: z.string().describe('Human-readable summary; names the wrong fields for validation errors'),
    issues: z.array(IssueSchema).optional(),
    outcome: WriteOutcomeSchema.optional().describe(
      'On a failed write: `not_stored`, or `unknown` when the store did not answer in time and may have kept it',
    ),
  })
  .describe('Error');
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

export function validationError(issues: Issue[]): ErrorBody {
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.path || i.in} ${i.message}`)
    .join('; ');
  const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
  return { error: 'validation_failed', message: `Invalid request: ${summary}${more}`, issues };
}
