import { ReadingSchema, checkTimestampWindow, toIssues, validationError, type Issue, type Reading, type TimestampWindow } from '@energy-pipeline/contract';
import type { z } from 'zod';
import type { BatchItemResultSchema } from '@energy-pipeline/contract';
import type { StoreUnavailableError } from './stream-writer.js';

type ItemResult = z.infer<typeof BatchItemResultSchema>;
type Checked = { index: number; reading: Reading } | { index: number; issues: Issue[] };

/** Validates one batch item as POST /readings would, with paths prefixed by its position. */
export function checkItem(item: unknown, index: number, window: TimestampWindow): Checked {
  const parsed = ReadingSchema.safeParse(item);
  const prefix = (issues: Issue[]) => issues.map((i) => ({ ...i, path: i.path ? `readings.${index}.${i.path}` : `readings.${index}` }));
  if (!parsed.success) return { index, issues: prefix(toIssues('body', parsed.error.issues)) };
  const problem = checkTimestampWindow(parsed.data.timestamp, window);
  if (problem) return { index, issues: prefix([{ in: 'body', path: 'timestamp', message: problem }]) };
  return { index, reading: parsed.data };
}

/** Puts validation failures and write outcomes back into request order. */
export function batchResults(checked: Checked[], written: (string | StoreUnavailableError)[]) {
  let next = 0;
  const results: ItemResult[] = checked.map((c) => {
    if ('issues' in c) {
      const { error, message, issues } = validationError(c.issues);
      return { index: c.index, status: 'rejected', error, message, issues };
    }
    const outcome = written[next++]!;
    return typeof outcome === 'string'
      ? { index: c.index, status: 'accepted', stream_id: outcome, duplicate: false }
      : { index: c.index, status: 'rejected', error: 'unavailable', message: 'Not stored: Redis is unavailable; retry this reading' };
  });
  const accepted = results.filter((r) => r.status === 'accepted').length;
  return { accepted, rejected: results.length - accepted, results };
}
