import { initContract } from '@ts-rest/core';
import { z } from 'zod';
import { ErrorSchema } from './errors.js';
import { HealthStatusSchema, RedisStatusSchema, StreamSummarySchema } from './ingest-contract.js';
import { exampleTime, withExamples } from './examples.js';
import { routesWithAuth } from './route-auth.js';
import {
  DeadLetterFilterSchema,
  DeadLetterIdPathSchema,
  DeadLetterListQuerySchema,
  DeadLetterPageSchema,
  DeleteResultSchema,
  DevicePathSchema,
  DeviceSeriesSchema,
  DeviceSummarySchema,
  IdPageQuerySchema,
  ReplayResultSchema,
  SeriesQuerySchema,
  SiteDevicesSchema,
  SitePathSchema,
  SiteSchema,
  SiteSettingsSchema,
  SiteSeriesSchema,
  SitesSchema,
} from './query-schemas.js';

const c = initContract();

export const ProcessHealthSchema = withExamples(
  z
    .object({
      status: HealthStatusSchema,
      redis: RedisStatusSchema,
      consumer: z.string(),
      group: z.string(),
      running: z.boolean().describe('Whether the consumer loop is reading'),
      pending: z.number().int().nullable().describe("Entries delivered to this consumer and not yet acknowledged; null when Redis is down"),
      last_activity: z.iso.datetime().nullable().describe('When this consumer last read from or acknowledged on the stream'),
      uptime_s: z.number(),
    })
    .describe('ProcessHealth'),
  {
    status: 'ok',
    redis: 'up',
    consumer: 'processor-7d9f-1',
    group: 'processors',
    running: true,
    pending: 3,
    last_activity: exampleTime(),
    uptime_s: 86400,
  },
);

export const ConsumerInfoSchema = z.object({
  name: z.string(),
  pending: z.number().int(),
  idle_ms: z.number().int(),
});

const GroupStatsSchema = z.object({
  name: z.string(),
  exists: z.boolean(),
  consumers: z.array(ConsumerInfoSchema),
  pending: z.number().int().describe('Delivered to some consumer, not yet acknowledged'),
  lag: z.number().int().nullable().describe('Entries not yet delivered to the group; null when Redis cannot tell'),
  last_delivered_id: z.string().nullable(),
  oldest_pending_id: z.string().nullable(),
});

export const ShardStatsSchema = z.object({
  shard: z.number().int(),
  stream: StreamSummarySchema,
  group: GroupStatsSchema,
  dead_letters: z.object({ stream: z.string(), length: z.number().int() }),
});

// One shard's figures; with STREAM_SHARDS=1 the totals are the shard's own.
const EXAMPLE_STREAM = { name: 'energy_readings', length: 120000, first_id: '1768469400000-0', last_id: '1768473000000-0', groups: 1 };
const EXAMPLE_GROUP = {
  name: 'processing_group',
  exists: true,
  consumers: [{ name: 'processor-7d9f-1', pending: 3, idle_ms: 120 }],
  pending: 3,
  lag: 40,
  last_delivered_id: '1768472999000-0',
  oldest_pending_id: '1768472998000-0',
};
const EXAMPLE_DEAD_LETTERS = { stream: 'ep:{energy_readings}:processing_group:dead-letters', length: 1 };

export const ProcessMetricsSchema = withExamples(
  z
    .object({
      stream: StreamSummarySchema.describe('Every shard together: name is REDIS_STREAM, length the sum'),
      group: GroupStatsSchema.describe('Every shard together: pending and lag summed, consumers merged by name'),
      shards: z.array(ShardStatsSchema).describe('Each shard on its own (one with STREAM_SHARDS=1)'),
      applied: z.object({
        total: z.number().int().describe('Readings applied to the aggregates by any consumer of the group'),
        by_this_consumer: z.number().int().describe('Readings this process applied since it started'),
        validation_failed: z.number().int().describe('Entries or readings dead-lettered as validation_failed, by any consumer'),
        dead_lettered: z.number().int().describe('Entries or readings moved to the dead-letter stream, by any consumer'),
      }),
      dead_letters: z.object({ stream: z.string(), length: z.number().int() }),
      trimmed: z.number().int().describe('Entries this process trimmed from the stream since it started'),
    })
    .describe('ProcessMetrics'),
  {
    stream: EXAMPLE_STREAM,
    group: EXAMPLE_GROUP,
    shards: [{ shard: 0, stream: EXAMPLE_STREAM, group: EXAMPLE_GROUP, dead_letters: EXAMPLE_DEAD_LETTERS }],
    applied: { total: 119957, by_this_consumer: 61024, validation_failed: 1, dead_lettered: 1 },
    dead_letters: EXAMPLE_DEAD_LETTERS,
    trimmed: 0,
  },
);

const readErrors = { 400: ErrorSchema, 500: ErrorSchema, 503: ErrorSchema };
/**
 * Statuses of the routes that need a key (`metadata.auth` other than public): 401 without a valid
 * `Authorization: Bearer` API key (with WWW-Authenticate), 403 when the key lacks the scope or is
 * limited to other sites.
 */
const authErrors = { 401: ErrorSchema, 403: ErrorSchema };

/** Who may call what: see RouteMetadata. Queries need `read`, dead-letter changes `admin`. */
const read = { auth: 'read' } as const;
const readSite = { auth: 'read', sites: 'param' } as const;
const admin = { auth: 'admin' } as const;
const open = { auth: 'public' } as const;

export const processContract = c.router(
  routesWithAuth({
    sites: {
      method: 'GET',
      path: '/sites',
      query: IdPageQuerySchema,
      summary: 'Sites seen, with their device and reading counts, a page at a time in site_id order',
      metadata: { auth: 'read', sites: 'handler' },
      responses: { 200: SitesSchema, ...authErrors, ...readErrors },
    },
    site: {
      method: 'GET',
      path: '/sites/:site_id',
      pathParams: SitePathSchema,
      summary: 'A site: its time zone and its device and reading counts',
      metadata: readSite,
      responses: { 200: SiteSchema, 404: ErrorSchema, ...authErrors, ...readErrors },
    },
    putSite: {
      method: 'PUT',
      path: '/sites/:site_id',
      pathParams: SitePathSchema,
      body: SiteSettingsSchema,
      summary: "Set a site's time zone (its day and month buckets follow it from now on)",
      description:
        'Readings applied from now on go into day and month buckets in this zone. Buckets written earlier keep ' +
        "their boundaries: each is named by its date (2026-03-29), so day and month series still show it under " +
        'its date, measured over the day it had in the zone of its time. The change reaches every processor within 10 s.',
      metadata: admin,
      responses: { 200: SiteSchema, 413: ErrorSchema, 415: ErrorSchema, ...authErrors, ...readErrors },
    },
    siteDevices: {
      method: 'GET',
      path: '/sites/:site_id/devices',
      pathParams: SitePathSchema,
      query: IdPageQuerySchema,
      summary: "A site's devices with their totals and latest reading, a page at a time in device_id order",
      metadata: readSite,
      responses: { 200: SiteDevicesSchema, 404: ErrorSchema, ...authErrors, ...readErrors },
    },
    device: {
      method: 'GET',
      path: '/sites/:site_id/devices/:device_id',
      pathParams: DevicePathSchema,
      summary: "One device's totals and latest reading",
      metadata: readSite,
      responses: { 200: DeviceSummarySchema, 404: ErrorSchema, ...authErrors, ...readErrors },
    },
    siteSeries: {
      method: 'GET',
      path: '/sites/:site_id/series',
      pathParams: SitePathSchema,
      query: SeriesQuerySchema,
      summary: "A site's power and energy per minute or hour bucket",
      metadata: readSite,
      responses: { 200: SiteSeriesSchema, ...authErrors, ...readErrors },
    },
    deviceSeries: {
      method: 'GET',
      path: '/sites/:site_id/devices/:device_id/series',
      pathParams: DevicePathSchema,
      query: SeriesQuerySchema,
      summary: "A device's power and energy per minute or hour bucket",
      metadata: readSite,
      responses: { 200: DeviceSeriesSchema, ...authErrors, ...readErrors },
    },
    listDeadLetters: {
      method: 'GET',
      path: '/dead-letters',
      query: DeadLetterListQuerySchema,
      summary: 'Entries that could not be processed, oldest first',
      metadata: read,
      responses: { 200: DeadLetterPageSchema, ...authErrors, ...readErrors },
    },
    replayDeadLetter: {
      method: 'POST',
      path: '/dead-letters/:id/replay',
      pathParams: DeadLetterIdPathSchema,
      // No body. `null` rather than c.noBody(), whose type is a symbol of ts-rest's: it would be
      // the one ts-rest name left in the SDK's declarations (see client/test/types.test.ts).
      body: null,
      summary: 'Put one dead letter back into the main stream (and remove it from the dead letters)',
      metadata: admin,
      responses: { 200: ReplayResultSchema, 404: ErrorSchema, ...authErrors, ...readErrors },
    },
    replayDeadLetters: {
      method: 'POST',
      path: '/dead-letters/replay',
      body: DeadLetterFilterSchema,
      summary: 'Put every dead letter that matches the filter back into the main stream',
      metadata: admin,
      responses: { 200: ReplayResultSchema, 413: ErrorSchema, 415: ErrorSchema, ...authErrors, ...readErrors },
    },
    deleteDeadLetter: {
      method: 'DELETE',
      path: '/dead-letters/:id',
      pathParams: DeadLetterIdPathSchema,
      summary: 'Delete one dead letter',
      metadata: admin,
      responses: { 200: DeleteResultSchema, 404: ErrorSchema, ...authErrors, ...readErrors },
    },
    deleteDeadLetters: {
      method: 'POST',
      path: '/dead-letters/delete',
      body: DeadLetterFilterSchema,
      summary: 'Delete every dead letter that matches the filter (an empty filter deletes all)',
      metadata: admin,
      responses: { 200: DeleteResultSchema, 413: ErrorSchema, 415: ErrorSchema, ...authErrors, ...readErrors },
    },
    health: {
      method: 'GET',
      path: '/health',
      summary: 'Consumer status and Redis reachability',
      metadata: open,
      responses: { 200: ProcessHealthSchema, 500: ErrorSchema, 503: ProcessHealthSchema },
    },
    metrics: {
      method: 'GET',
      path: '/metrics',
      summary: 'Stream, consumer-group and processing counters as JSON',
      metadata: open,
      responses: { 200: ProcessMetricsSchema, 500: ErrorSchema, 503: ErrorSchema },
    },
  }),
  { strictStatusCodes: true },
);

export type ProcessContract = typeof processContract;
