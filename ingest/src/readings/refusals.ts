import type { ErrorBody, Reading } from '@energy-pipeline/contract';
import type { AppendOutcome } from '../store/append-readings.js';
import { TIME_CHUNK_MS } from '../store/dedupe-format.js';

/** An append outcome other than stored or repeat: the reading was not stored now. */
export type Refused = Exclude<AppendOutcome, { status: 'stored' } | { status: 'repeat' }>;

type Identified = Pick<Reading, 'site_id' | 'device_id' | 'seq' | 'timestamp'>;

const deviceOf = (r: Identified) => `device '${r.device_id}' at site '${r.site_id}'`;
const identityOf = (r: Identified) => (r.seq !== undefined ? `seq ${r.seq}` : new Date(Date.parse(r.timestamp)).toISOString());

/**
 * The answer to a reading the dedupe window refused, the same on both write routes (a batch item
 * carries the body with its index): what is known, and what the client should do. 409 for what
 * the client can act on; 500 for a state ingest cannot read, which no retry cures.
 */
export function refusal(reading: Identified, outcome: Refused): { status: 409 | 500; body: ErrorBody } {
  switch (outcome.status) {
    case 'unverifiable': {
      const floor = reading.seq !== undefined ? `seq ${outcome.floor}` : new Date(outcome.floor).toISOString();
      const message =
        `Not stored now: ${identityOf(reading)} is below ${floor}, the oldest still remembered of ${deviceOf(reading)}, ` +
        'so it cannot be checked against earlier copies. If this resends a reading whose answer was lost, that copy ' +
        'may be stored (stored_before: unknown); a new reading this far behind its device is too late to be stored once';
      return { status: 409, body: { error: 'out_of_order', message, stored_before: 'unknown' } };
    }
    case 'conflict': {
      const message =
        `Not stored: ${deviceOf(reading)} already has a different reading at ${identityOf(reading)} (${outcome.differs.join(', ')} differs). ` +
        `A resend must repeat the reading exactly; a new measurement needs its own ${reading.seq !== undefined ? 'seq' : 'timestamp'}`;
      const issues = outcome.differs.map((path) => ({ in: 'body' as const, path, message: 'differs from the reading already stored under this identity' }));
      return { status: 409, body: { error: 'conflict', message, issues } };
    }
    case 'full': {
      const message =
        `Not stored: ${deviceOf(reading)} already has ${outcome.cap} readings without seq within this ${TIME_CHUNK_MS / 60_000}-minute span, ` +
        'the most remembered per device (DEDUPE_MAX_PER_5MIN). Number its readings with seq (the SDK does) to send more often';
      return { status: 409, body: { error: 'window_full', message } };
    }
    case 'corrupt':
      return {
        status: 500,
        body: {
          error: 'internal_error',
          message: `Not stored: the dedupe state of ${deviceOf(reading)} is unreadable, so whether a copy was stored before cannot be checked`,
          stored_before: 'unknown',
        },
      };
  }
}
