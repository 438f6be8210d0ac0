import { initContract } from '@ts-rest/core';
import { z } from 'zod';
import { ErrorCodeSchema, ErrorSchema, IssueSchema, StoredBeforeSchema, WriteOutcomeSchema } from './errors.js';
import { withExamples } from './examples.js';
import { ReadingBodySchema } from './plain-reading.js';
import { EXAMPLE_READING } from './reading.js';
import { routesWithAuth } from './route-auth.js';

const c = initContract();

export const ReadingAcceptedSchema = withExamples(
  z
    .object({
      status: z.literal('success'),
      stream_id: z
        .string()
        .nullable()
        .describe('Redis stream entry id the reading was stored under; null for a repeat, stored earlier'),
      duplicate: z
        .boolean()
        .describe('A repeat of a reading accepted earlier (same device and seq, or timestamp, and the same content): not stored again'),
      message: z.string(),
    })
    .describe('ReadingAccepted'),
  { status: 'success', stream_id: '1768473000000-0', duplicate: false, message: 'Reading successfully ingested' },
);

/**
 * One item of a batch. The server checks items one by one (against ReadingSchema), so that one
 * bad reading does not sink the rest of its batch; hence `unknown` here. The OpenAPI document
 * shows ReadingSchema for it (contract/src/openapi.ts).
 */
export const BatchItemSchema = z.unknown().meta({ description: 'A reading, as for POST /readings' });

export const ReadingBatchSchema = withExamples(
  z
    .strictObject({
      readings: z.array(BatchItemSchema).min(1, 'must hold at least one reading'),
    })
    .describe('ReadingBatch'),
  { readings: [EXAMPLE_READING] },
);

export const BatchItemResultSchema = z.discriminatedUnion('status', [
  z.object({
    index: z.number().int().describe('Position in the request'),
    status: z.literal('accepted'),
    stream_id: z.string().nullable().describe('Entry the reading was stored under (shared by the batch); null for a repeat'),
    duplicate: z.boolean().describe('A repeat of a reading accepted earlier: not stored again'),
  }),
  z.object({
    index: z.number().int(),
    status: z.literal('rejected'),
    error: ErrorCodeSchema.extract(['validation_failed', 'forbidden', 'out_of_order', 'conflict', 'window_full', 'unavailable', 'internal_error']).describe(
        'validation_failed (fix the reading), forbidden (the API key may not write for its site_id), ' +
          'out_of_order (older than what is remembered of its device: not stored now, cannot be checked; see stored_before), ' +
          'conflict (a different reading is stored under its identity; issues name what differs), ' +
          'window_full (its device has as many readings without seq in this span as are remembered: number them with seq), ' +
          'unavailable (retry it; see outcome) or internal_error (not stored; see stored_before)',
      ),
    message: z.string(),
    issues: z.array(IssueSchema).optional(),
    outcome: WriteOutcomeSchema.optional().describe('For unavailable: not_stored, or unknown when it may have been stored'),
    stored_before: StoredBeforeSchema.optional().describe(
      'For out_of_order and internal_error: whether a copy sent before was stored cannot be checked',
    ),
  }),
]);

export type BatchItemResult = z.infer<typeof BatchItemResultSchema>;

export const BatchResultSchema = withExamples(
  z
    .object({
      accepted: z.number().int(),
      rejected: z.number().int(),
      results: z.array(BatchItemResultSchema).describe('One per reading, in request order'),
    })
    .describe('BatchResult'),
  {
    accepted: 1,
    rejected: 1,
    results: [
      { index: 0, status: 'accepted', stream_id: '1768473000000-0', duplicate: false },
      {
        index: 1,
        status: 'rejected',
        error: 'validation_failed',
        message: 'Invalid request: readings.1.power_reading must be a finite number of watts',
        issues: [{ in: 'body', path: 'readings.1.power_reading', message: 'must be a finite number of watts' }],
      },
    ],
  },
);

export const RedisStatusSchema = z.enum(['up', 'down']);
/** Both services' GET /health `status`. */
export const HealthStatusSchema = z.enum(['ok', 'unavailable']);

export const IngestHealthSchema = withExamples(
  z
    .object({
      status: HealthStatusSchema,
      redis: RedisStatusSchema,
      stream: z.string(),
      uptime_s: z.number(),
    })
    .describe('IngestHealth'),
  { status: 'ok', redis: 'up', stream: 'readings', uptime_s: 86400 },
);

export const StreamSummarySchema = z.object({
  name: z.string(),
  length: z.number().int(),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
  groups: z.number().int(),
});

export const ShardBacklogSchema = z.object({
  shard: z.number().int(),
  stream: z.string().describe("The shard's stream"),
  lag: z.number().int().nullable().describe('Entries not yet delivered to the consumer group; null when Redis cannot tell'),
  pending: z.number().int().describe('Delivered and not yet acknowledged'),
  backlog: z.number().int().describe('lag + pending'),
});

export const IngestMetricsSchema = withExamples(
  z
    .object({
      stream: StreamSummarySchema.describe('Every shard together: name is REDIS_STREAM, length the sum'),
      backlog: z
        .object({
          total: z.number().int().nullable().describe('What the processors have left on every shard; null until first read'),
          shards: z.array(ShardBacklogSchema).describe('Per shard, as last read (KEDA scales the processors on these)'),
        })
        .describe('The consumer group backlog, read in the background every BACKLOG_CHECK_INTERVAL_MS'),
      readings: z
        .object({
          accepted: z.number().int(),
          rejected: z.number().int(),
          rejected_by_reason: z.record(z.string(), z.number().int()),
        })
        .describe('Counts since this instance started'),
    })
    .describe('IngestMetrics'),
  {
    stream: { name: 'readings', length: 120000, first_id: '1768469400000-0', last_id: '1768473000000-0', groups: 1 },
    backlog: { total: 42, shards: [{ shard: 0, stream: 'readings', lag: 40, pending: 2, backlog: 42 }] },
    readings: { accepted: 120000, rejected: 3, rejected_by_reason: { validation_failed: 3 } },
  },
);

/** Statuses any route may answer that are not about the route itself. */
const serverErrors = { 500: ErrorSchema, 503: ErrorSchema };
/** Statuses a route with a JSON body may also answer before its handler runs. */
const bodyErrors = { 400: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema };
/**
 * Statuses of the write routes' edge: 401 without a valid `Authorization: Bearer` API key
 * (with WWW-Authenticate), 403 for a key without the `write` scope, 429 past the key's rate limit
 * (with Retry-After). 503 (in serverErrors) also covers backpressure: a consumer backlog past its
 * limit, Redis unavailable or an overloaded event loop, always with Retry-After.
 */
const writeErrors = { 401: ErrorSchema, 403: ErrorSchema, 429: ErrorSchema };

/**
 * Who may call what: see RouteMetadata. Writes need a `write` key; which sites it may write for is
 * checked per reading by the handlers (403, or a `forbidden` batch item).
 */
const write = { auth: 'write', sites: 'handler' } as const;
const open = { auth: 'public' } as const;

export const ingestContract = c.router(
  routesWithAuth({
    postReading: {
      method: 'POST',
      path: '/readings',
      summary: 'Ingest one power reading',
      description:
        'Validates the reading and appends it to the Redis stream. 202 means it is durably queued for processing.',
      body: ReadingBodySchema,
      metadata: write,
      responses: {
        202: ReadingAcceptedSchema,
        ...bodyErrors,
        ...writeErrors,
        403: ErrorSchema.describe("The API key lacks the write scope or may not write readings for this reading's site_id"),
        409: ErrorSchema.describe(
          'Not stored. out_of_order: the reading is older than what is remembered of its device (DEDUPE_WINDOW_S ' +
            'behind its newest), so it cannot be checked against earlier copies (stored_before: unknown). ' +
            'conflict: a different reading is stored under its identity (device and seq, or timestamp); issues ' +
            'name what differs. window_full: its device has as many readings without seq in this span as are ' +
            'remembered; number them with seq.',
        ),
        ...serverErrors,
      },
    },
    postReadingsBatch: {
      method: 'POST',
      path: '/readings/batch',
      summary: 'Ingest many readings in one request',
      description:
        'Each reading is validated on its own: valid ones are stored, invalid ones are reported in `results` ' +
        'and not stored (partial acceptance, as in Kinesis PutRecords). A reading whose site the API key may ' +
        'not write for is rejected in its result with error `forbidden`. A malformed or oversized request is ' +
        'rejected whole. The body may be gzip-compressed (Content-Encoding: gzip).',
      body: ReadingBatchSchema,
      metadata: write,
      responses: { 200: BatchResultSchema, ...bodyErrors, ...writeErrors, ...serverErrors },
    },
    health: {
      method: 'GET',
      path: '/health',
      summary: 'Liveness and Redis reachability',
      metadata: open,
      responses: { 200: IngestHealthSchema, 500: ErrorSchema, 503: IngestHealthSchema },
    },
    // ts-rest allows one schema per status, so the 200 here is the JSON body (what `curl` and the
    // SDK get). A Prometheus scrape (Accept: text/plain;version=0.0.4 or
    // application/openmetrics-text) gets the text exposition format for the same status instead;
    // the OpenAPI document lists both content types (see metricsTextContentTypes).
    metrics: {
      method: 'GET',
      path: '/metrics',
      summary: 'Stream and ingest counters as JSON, or Prometheus metrics in text format',
      metadata: open,
      responses: { 200: IngestMetricsSchema, ...serverErrors },
    },
  }),
  { strictStatusCodes: true },
);

export type IngestContract = typeof ingestContract;

/**
 * Accept values that select the Prometheus text format on GET /metrics, on both services; the
 * answer is always `text/plain; version=0.0.4`, which Prometheus reads whatever it asked for.
 */
export const metricsTextContentTypes = ['text/plain', 'application/openmetrics-text'] as const;
