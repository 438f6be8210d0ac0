import { initContract } from '@ts-rest/core';
import { z } from 'zod';
import { ErrorSchema } from './errors.js';
import { RedisStatusSchema, StreamSummarySchema } from './ingest-contract.js';

const c = initContract();

export const ProcessHealthSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    redis: RedisStatusSchema,
    consumer: z.string(),
    group: z.string(),
    running: z.boolean().describe('Whether the consumer loop is reading'),
    pending: z.number().int().nullable().describe("Entries delivered to this consumer and not yet acknowledged; null when Redis is down"),
    last_activity: z.iso.datetime().nullable().describe('When this consumer last read from or acknowledged on the stream'),
    uptime_s: z.number(),
  })
  .describe('ProcessHealth');

export const ConsumerInfoSchema = z.object({
  name: z.string(),
  pending: z.number().int(),
  idle_ms: z.number().int(),
});

export const ProcessMetricsSchema = z
  .object({
    stream: StreamSummarySchema,
    group: z
      .object({
        name: z.string(),
        exists: z.boolean(),
        consumers: z.array(ConsumerInfoSchema),
        pending: z.number().int().describe('Delivered to some consumer, not yet acknowledged'),
        lag: z.number().int().nullable().describe('Entries not yet delivered to the group; null when Redis cannot tell'),
        last_delivered_id: z.string().nullable(),
        oldest_pending_id: z.string().nullable(),
      }),
    processed: z.object({
      total: z.number().int().describe('Entries applied to the aggregates by any consumer of the group'),
      by_this_consumer: z.number().int().describe('Entries this process applied since it started'),
      invalid: z.number().int().describe('Entries that failed validation, by any consumer'),
    }),
  })
  .describe('ProcessMetrics');

export const processContract = c.router(
  {
    health: {
      method: 'GET',
      path: '/health',
      summary: 'Consumer status and Redis reachability',
      responses: { 200: ProcessHealthSchema, 500: ErrorSchema, 503: ProcessHealthSchema },
    },
    metrics: {
      method: 'GET',
      path: '/metrics',
      summary: 'Stream, consumer-group and processing counters as JSON',
      responses: { 200: ProcessMetricsSchema, 500: ErrorSchema, 503: ErrorSchema },
    },
  },
  { strictStatusCodes: true },
);

export type ProcessContract = typeof processContract;
