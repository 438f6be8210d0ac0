import type { Issue, ReadingSchema } from '@energy-pipeline/contract';
import type { z } from 'zod';
import type { Sequencer } from './sequence.js';

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
   * not write for its site), `out_of_order` (older than what is remembered of its device), or why
   * it could not be delivered within the retry budget: `unavailable`, `rate_limited`, `network`,
   * `timeout`.
   */
  error: string;
  message: string;
  issues?: Issue[];
  /**
   * Sending it again later may succeed: true for `unavailable`, `rate_limited`, `network` and
   * `timeout` (see `isRetryable`), false for a reading refused for what it is.
   */
  retryable: boolean;
}

export type ReadingResult = AcceptedReading | RejectedReading;

export interface SendReadingsResult {
  accepted: number;
  rejected: number;
  /** One per reading, in the order given. */
  results: ReadingResult[];
}
