import { z } from 'zod';
import { IdSchema } from './reading.js';

/**
 * The live side (tRPC subscriptions on the processor, at /trpc): what each subscription takes and
 * what its events hold. The processor's router, the SDK's `client.watch.*`, the CLI's `watch`
 * and the dashboard all use these schemas; the REST routes stay in the ts-rest contracts.
 */

/**
 * Where in the readings stream(s) an event was taken: one part per shard stream, in shard order,
 * joined by `,`. A part is the id of the last entry read (`1700000000000-0`), with `.<n>` when
 * only the readings up to index n of that batch entry were included (`1700000000000-0.41`).
 * A client that reconnects with the last id it got resumes right after it, as long as the stream
 * still holds that entry (the processor keeps at least LIVE_RETENTION_S of entries).
 */
export const LivePositionSchema = z
  .string()
  .max(4096)
  .regex(/^\d{1,20}-\d{1,20}(\.\d{1,9})?(,\d{1,20}-\d{1,20}(\.\d{1,9})?)*$/, 'must be an event id sent by this server');

/** tRPC adds `lastEventId` to a subscription's input when it reconnects. */
const resume = { lastEventId: LivePositionSchema.nullish().describe('Resume after this event id (set by the client on reconnect)') };

export const WatchSiteInputSchema = z.strictObject({ site_id: IdSchema, ...resume });

export const WatchTailInputSchema = z.strictObject({
  site_id: IdSchema.optional().describe("Only this site's readings"),
  device_id: IdSchema.optional().describe("Only this device's readings (with site_id: that site's device)"),
  ...resume,
});

export const WatchPipelineInputSchema = z.strictObject({}).optional();

/** A reading as the live side shows it: as sent, plus where it sits in the stream. */
export const LiveReadingSchema = z.object({
  site_id: z.string(),
  device_id: z.string(),
  power_w: z.number(),
  timestamp: z.string().describe('When the device measured it, as sent'),
  reading_id: z.string().optional(),
  seq: z.number().int().optional(),
  shard: z.number().int().describe('Index of the stream that holds it'),
  stream_id: z.string().describe('Id of the stream entry that holds it'),
  index: z.number().int().describe('Its place in a batch entry; 0 in a single-reading entry'),
});

export const LiveDeviceSchema = z.object({
  device_id: z.string(),
  power_w: z.number().nullable().describe('Power of its latest reading (by measurement time)'),
  timestamp: z.string().nullable().describe('Measurement time of that reading'),
  last_seen: z.iso.datetime().nullable().describe('When the pipeline last received a reading of it'),
  interval_s: z.number().nullable().describe('Its usual time between readings, as learned; null until known'),
  quiet: z.boolean().describe('No reading for LIVE_QUIET_FACTOR times its usual interval'),
});

/** Energy so far in one bucket: the bucket's mean power of each device times the time elapsed in it. */
export const LiveEnergySchema = z.object({
  start: z.iso.datetime(),
  period: z.string().optional().describe("The day's date in the site's zone"),
  span_s: z.number().int().describe('Bucket length (a day lasts 23 or 25 hours when clocks change)'),
  elapsed_s: z.number().int().describe('Time of the bucket gone by'),
  energy_wh: z.number(),
  count: z.number().int().describe('Readings in the bucket so far'),
});

export const SiteLiveSchema = z.object({
  site_id: z.string(),
  time_zone: z.string(),
  at: z.iso.datetime().describe('When these figures were taken'),
  power_w: z.number().describe('Sum of the power now of the devices that are not quiet'),
  devices: z.array(LiveDeviceSchema).describe('Ordered by device_id'),
  quiet: z.array(z.string()).describe('Ids of the devices gone quiet'),
  energy: z.object({ minute: LiveEnergySchema, hour: LiveEnergySchema, day: LiveEnergySchema }),
});

/** Why a subscription could not resume where it left off. */
export const LiveNoticeSchema = z.object({
  code: z.enum(['resume_gap']),
  message: z.string(),
});

/**
 * A site subscription's events: a `snapshot` first and whenever the figures change (at most once
 * per LIVE_INTERVAL_MS), `readings` as they arrive, and a `notice` when a resume came too late.
 */
export const SiteEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), site: SiteLiveSchema }),
  z.object({ type: z.literal('readings'), readings: z.array(LiveReadingSchema) }),
  z.object({ type: z.literal('notice'), notice: LiveNoticeSchema }),
]);

export const TailEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('readings'), readings: z.array(LiveReadingSchema) }),
  z.object({ type: z.literal('notice'), notice: LiveNoticeSchema }),
]);

/** One site in the fleet overview: the figures of its snapshot, summed up. */
export const FleetSiteSchema = z.object({
  site_id: z.string(),
  power_w: z.number(),
  energy_today_wh: z.number().describe("Energy so far in the site's current local day"),
  devices: z.number().int(),
  quiet: z.array(z.string()).describe('Ids of the devices gone quiet'),
  last_seen: z.iso.datetime().nullable().describe('When the pipeline last received a reading of the site'),
});

export const FleetLiveSchema = z.object({
  at: z.iso.datetime(),
  sites: z.array(FleetSiteSchema).describe('Ordered by site_id; at most LIVE_FLEET_MAX_SITES'),
  more: z.boolean().describe('More sites exist than are shown'),
});

export const WatchFleetInputSchema = z.strictObject({}).optional();

export const PipelineConsumerSchema = z.object({ name: z.string(), pending: z.number().int(), idle_ms: z.number().int() });

/** One shard stream and its consumer group. Rates are per second over the last interval; null on the first. */
export const PipelineShardSchema = z.object({
  shard: z.number().int(),
  stream: z.string(),
  length: z.number().int().describe('Entries in the stream'),
  lag: z.number().int().nullable().describe('Entries not yet delivered to the group; null when Redis cannot tell'),
  pending: z.number().int().describe('Delivered and not yet acknowledged'),
  ingest_entries_per_s: z.number().nullable().describe('Entries added to the stream (a batch is one entry)'),
  read_entries_per_s: z.number().nullable().describe('Entries delivered to the group'),
  applied_readings_per_s: z.number().nullable().describe('Readings applied to the aggregates'),
  applied: z.number().int().describe('Readings applied since the group began'),
  dead_letters: z.number().int(),
  consumers: z.array(PipelineConsumerSchema),
});

export const PipelineLiveSchema = z.object({
  at: z.iso.datetime(),
  group: z.string(),
  redis: z.enum(['up', 'down']),
  shards: z.array(PipelineShardSchema),
  totals: z.object({
    lag: z.number().int().nullable(),
    pending: z.number().int(),
    ingest_entries_per_s: z.number().nullable(),
    read_entries_per_s: z.number().nullable(),
    applied_readings_per_s: z.number().nullable(),
    dead_letters: z.number().int(),
  }),
});

export type LiveReading = z.infer<typeof LiveReadingSchema>;
export type LiveDevice = z.infer<typeof LiveDeviceSchema>;
export type LiveEnergy = z.infer<typeof LiveEnergySchema>;
export type SiteLive = z.infer<typeof SiteLiveSchema>;
export type LiveNotice = z.infer<typeof LiveNoticeSchema>;
export type SiteEvent = z.infer<typeof SiteEventSchema>;
export type TailEvent = z.infer<typeof TailEventSchema>;
export type FleetSite = z.infer<typeof FleetSiteSchema>;
export type FleetLive = z.infer<typeof FleetLiveSchema>;
export type PipelineLive = z.infer<typeof PipelineLiveSchema>;
export type PipelineShard = z.infer<typeof PipelineShardSchema>;
export type WatchSiteInput = z.infer<typeof WatchSiteInputSchema>;
export type WatchTailInput = z.infer<typeof WatchTailInputSchema>;
