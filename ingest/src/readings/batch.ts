import {
  parseReading,
  checkTimestampWindow,
  validationError,
  type BatchItemResult,
  type ErrorBody,
  type Reading,
  type TimestampWindow,
} from '@energy-pipeline/contract';
import { allowsSite, type ApiKey } from '@energy-pipeline/server-kit';
import { type Appended, StoreUnavailableError } from '../store/stream-writer.js';

type Rejection = ErrorBody & { error: 'validation_failed' | 'forbidden' };
type Checked = { index: number; reading: Reading } | { index: number; rejection: Rejection };

/**
 * What a reading must pass beyond its schema, on both write routes: a timestamp inside the
 * accepted window, and a site the API key may write for. Null when it passes.
 */
export function checkReading(reading: Reading, window: TimestampWindow, key: ApiKey | null): Rejection | null {
  const problem = checkTimestampWindow(reading.timestamp, window);
  if (problem) return validationError([{ in: 'body', path: 'timestamp', message: problem }]);
  if (!allowsSite(key, reading.site_id)) {
    return { error: 'forbidden', message: `This API key may not write readings for site '${reading.site_id}'` };
  }
  return null;
}

/**
 * Validates one batch item as POST /readings validates its body (parseReading). Issue paths are
 * within the reading (`timestamp`): the item's result carries its `index` already.
 */
export function checkItem(item: unknown, index: number, window: TimestampWindow, key: ApiKey | null): Checked {
  const parsed = parseReading(item);
  if (!parsed.ok) return { index, rejection: validationError(parsed.issues) };
  const rejection = checkReading(parsed.reading, window, key);
  return rejection ? { index, rejection } : { index, reading: parsed.reading };
}

/** Why a reading older than its device's remembered window is refused: it may or may not be a repeat. */
export function outOfOrderMessage(reading: { site_id: string; device_id: string; seq?: number | undefined }): string {
  const what = reading.seq !== undefined ? `seq ${reading.seq}` : 'this timestamp';
  return (
    `Not stored: ${what} is older than what is remembered of device '${reading.device_id}' at site '${reading.site_id}', ` +
    'so it cannot be told apart from a repeat. Send a device\'s readings in order, or number them with seq'
  );
}

/** Puts rejections and write outcomes back into request order. */
export function batchResults(checked: Checked[], written: (Appended | StoreUnavailableError)[]) {
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
    if (outcome.status === 'unverifiable') {
      return { index: c.index, status: 'rejected', error: 'out_of_order', message: outOfOrderMessage(c.reading) };
    }
    return outcome.status === 'stored'
      ? { index: c.index, status: 'accepted', stream_id: outcome.id, duplicate: false }
      : { index: c.index, status: 'accepted', stream_id: null, duplicate: true };
  });
  const accepted = results.filter((r) => r.status === 'accepted').length;
  return { accepted, rejected: results.length - accepted, results };
}
