import {
  parseReading,
  checkTimeWindow,
  timestampMs,
  validationError,
  type BatchItemResult,
  type ErrorBody,
  type Reading,
  type TimestampWindow,
} from '@energy-pipeline/contract';
import { allowsSite, type ApiKey } from '@energy-pipeline/server-kit';
import { type Appended, StoreFaultError, StoreUnavailableError } from '../store/stream-writer.js';
import { refusal } from './refusals.js';

type Rejection = ErrorBody & { error: 'validation_failed' | 'forbidden' };
/** A reading that passed, with its time in ms (a TimedReading, the store's input), or why not. */
type Checked = { index: number; reading: Reading; atMs: number } | { index: number; rejection: Rejection };

/**
 * What a reading must pass beyond its schema, on both write routes: a timestamp inside the
 * accepted window, and a site the API key may write for. Its time in ms when it passes: parsed
 * here once, for the store as well (identity, fingerprint).
 */
export function checkReading(reading: Reading, window: TimestampWindow, key: ApiKey | null): { rejection: Rejection } | { atMs: number } {
  const atMs = timestampMs(reading.timestamp);
  const problem = checkTimeWindow(atMs, window);
  if (problem) return { rejection: validationError([{ in: 'body', path: 'timestamp', message: problem }]) };
  if (!allowsSite(key, reading.site_id)) {
    return { rejection: { error: 'forbidden', message: `This API key may not write readings for site '${reading.site_id}'` } };
  }
  return { atMs };
}

/**
 * Validates one batch item as POST /readings validates its body (parseReading). Issue paths are
 * within the reading (`timestamp`): the item's result carries its `index` already.
 */
export function checkItem(item: unknown, index: number, window: TimestampWindow, key: ApiKey | null): Checked {
  const parsed = parseReading(item);
  if (!parsed.ok) return { index, rejection: validationError(parsed.issues) };
  const checked = checkReading(parsed.reading, window, key);
  return 'rejection' in checked ? { index, rejection: checked.rejection } : { index, reading: parsed.reading, atMs: checked.atMs };
}

/** Puts rejections and write outcomes back into request order. */
export function batchResults(checked: Checked[], written: (Appended | StoreUnavailableError | StoreFaultError)[]) {
  let next = 0;
  const results: BatchItemResult[] = checked.map((c) => {
    if ('rejection' in c) return { index: c.index, status: 'rejected', ...c.rejection };
    const outcome = written[next++]!;
    if (outcome instanceof StoreUnavailableError) {
      // Its shard's call failed while another shard's went through.
      const message =
        outcome.outcome === 'unknown'
          ? 'Redis did not answer in time: it may have been stored; resending it is safe'
          : 'Not stored: Redis is unavailable; retry this reading';
      return { index: c.index, status: 'rejected', error: 'unavailable', outcome: outcome.outcome, message };
    }
    if (outcome instanceof StoreFaultError) {
      const message =
        outcome.outcome === 'not_stored'
          ? "Not stored: the store failed on this reading's shard; the details are in the server's log"
          : "The store failed on this reading's shard and may have stored it; the details are in the server's log";
      return { index: c.index, status: 'rejected', error: 'internal_error', outcome: outcome.outcome, message };
    }
    if (outcome.status === 'stored') return { index: c.index, status: 'accepted', stream_id: outcome.id, duplicate: false };
    if (outcome.status === 'repeat') return { index: c.index, status: 'accepted', stream_id: null, duplicate: true };
    const { body } = refusal(c.reading, outcome);
    return { index: c.index, status: 'rejected', ...body, error: body.error as 'out_of_order' | 'conflict' | 'window_full' | 'internal_error' };
  });
  const accepted = results.filter((r) => r.status === 'accepted').length;
  return { accepted, rejected: results.length - accepted, results };
}
