import type { Issue, ReadingSchema, StoredBefore, WriteOutcome } from '@energy-pipeline/contract';
import type { z } from 'zod';
import type { Sequencer } from './sequence.js';
import type { CallOptions } from './transport.js';

/** A reading as the caller gives it; `reading_id` and `seq` are optional and filled in before sending. */
export type ReadingInput = z.input<typeof ReadingSchema>;

/**
 * A reading that carries its identity: its idempotency key and (from the SDK) its device's
 * sequence number. Only readings spooled by an SDK older than `seq` lack one.
 */
export type IdentifiedReading = ReadingInput & { reading_id: string };

/**
 * Gives a reading its identity once, before its first attempt: a `reading_id` (a new UUID) and
 * its device's next `seq`, unless the caller gave them. Every resend, spool replays included,
 * then carries the same ones, so the server can recognise a retry and never count it twice.
 */
export function identify(reading: ReadingInput, sequencer: Sequencer): IdentifiedReading {
  if (reading.reading_id && reading.seq !== undefined) return reading as IdentifiedReading;
  return {
    ...reading,
    reading_id: reading.reading_id || globalThis.crypto.randomUUID(),
    seq: reading.seq ?? sequencer.next(reading.site_id, reading.device_id),
  };
}

export interface SendReadingResult {
  reading_id: string;
  /** Stream entry the reading was stored under; null for a repeat of a reading stored earlier. */
  stream_id: string | null;
}

export interface AcceptedReading {
  /** Position in the array given to `sendReadings`. */
  index: number;
  reading_id: string;
  status: 'accepted';
  /** Entry the reading was stored under (shared by its batch); null for a repeat stored earlier. */
  stream_id: string | null;
  /** The reading_id had been accepted before: this was a resend, stored once. */
  duplicate: boolean;
}

export interface RejectedReading {
  index: number;
  reading_id: string;
  status: 'rejected';
  /**
   * Why, as an error kind: `validation_failed` (fix the reading), `forbidden` (the API key may
   * not write for its site), `out_of_order` (older than what the server remembers of its device:
   * not stored now, and it cannot be checked against earlier copies; see `stored_before`),
   * `conflict` (a different reading is stored under its identity, device and `seq` or timestamp;
   * `issues` name the fields that differ), `window_full` (its device sent more readings without
   * `seq` in five minutes than the server remembers: number them with `seq`), `internal_error`
   * (the server failed on it; see `stored_before`), or why it could not be delivered within the
   * retry budget: `unavailable`, `rate_limited`, `network`, `timeout`.
   */
  error: string;
  message: string;
  /** Fields named by the server: wrong ones for `validation_failed`, differing ones for `conflict`. */
  issues?: Issue[];
  /**
   * Whether a copy may be stored all the same: the server's `outcome` when it sent one, and for a
   * reading not delivered (`retryable`) `unknown` when an attempt got no answer that says what
   * became of it (a timeout, a dropped connection, a 502 or 504, a 503 with `outcome: unknown`),
   * else `not_stored`. Resending is safe either way: the server recognises a repeat.
   */
  outcome?: WriteOutcome;
  /**
   * The server's `stored_before`: `unknown` on `out_of_order` and `internal_error`, whose reading
   * was not stored now and cannot be checked against earlier copies. Sent for the first time, such
   * a reading is refused; a resend after a lost answer is reported `unconfirmed` instead.
   */
  stored_before?: StoredBefore;
  /**
   * Sending it again later may succeed: true for `unavailable`, `rate_limited`, `network` and
   * `timeout` (see `isRetryable`), false for a reading refused for what it is (`conflict` and
   * `window_full` included) and for `internal_error`.
   */
  retryable: boolean;
}

/**
 * Not a refusal: an attempt to send this reading got no answer (a timeout, a dropped connection,
 * a 503 with `outcome: unknown`), and the resend was answered `out_of_order` with
 * `stored_before: unknown`: the reading is now too old for the server to check it against the
 * copy that attempt may have stored. It may well be stored; sending it again cannot tell.
 */
export interface UnconfirmedReading {
  index: number;
  reading_id: string;
  status: 'unconfirmed';
  /** The server's answer to the resend. */
  error: 'out_of_order';
  message: string;
  stored_before: 'unknown';
  /** Always false: a resend gets the same answer. */
  retryable: false;
}

export type ReadingResult = AcceptedReading | RejectedReading | UnconfirmedReading;

export interface SendReadingsResult {
  accepted: number;
  /** Refused, or not delivered within the retry budget (`retryable`); `unconfirmed` ones are not counted here. */
  rejected: number;
  /** May be stored from an attempt whose answer was lost; see {@link UnconfirmedReading}. */
  unconfirmed: number;
  /** One per reading, in the order given. */
  results: ReadingResult[];
}

export interface SendReadingsOptions extends CallOptions {
  /**
   * reading_ids of readings that an earlier call sent without hearing whether they were stored
   * (a result with `outcome: 'unknown'`, or a call that threw after such an attempt): an
   * `out_of_order` answer with `stored_before: unknown` for one of them is reported `unconfirmed`,
   * not `rejected`. The buffer passes its own.
   */
  unanswered?: ReadonlySet<string> | undefined;
}
