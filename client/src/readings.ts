import type { Issue, ReadingSchema } from '@energy-pipeline/contract';
import type { z } from 'zod';

/** A reading as the caller gives it; `reading_id` is optional and filled in before sending. */
export type ReadingInput = z.input<typeof ReadingSchema>;

/** A reading that carries its idempotency key. */
export type IdentifiedReading = ReadingInput & { reading_id: string };

/**
 * Gives a reading its idempotency key once, before its first attempt: every resend then carries
 * the same key, so the server can recognise a retry and never count it twice.
 */
export function withReadingId(reading: ReadingInput): IdentifiedReading {
  if (reading.reading_id) return reading as IdentifiedReading;
  return { ...reading, reading_id: globalThis.crypto.randomUUID() };
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
   * `validation_failed` (fix the reading), or why it could not be delivered within the retry
   * budget: `unavailable`, `rate_limited`, `network`, `timeout`.
   */
  error: string;
  message: string;
  issues?: Issue[];
  /** Sending it again later may succeed (true for everything but validation failures). */
  retryable: boolean;
}

export type ReadingResult = AcceptedReading | RejectedReading;

export interface SendReadingsResult {
  accepted: number;
  rejected: number;
  /** One per reading, in the order given. */
  results: ReadingResult[];
}
