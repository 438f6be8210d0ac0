import { z } from 'zod';
import { IdSchema } from './reading.js';

/** Aggregation bucket sizes, in UTC. */
export const BucketSchema = z.enum(['minute', 'hour']);
export type Bucket = z.infer<typeof BucketSchema>;
export const BUCKET_SECONDS: Record<Bucket, number> = { minute: 60, hour: 3600 };

export const SeriesQuerySchema = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional().describe('Start of the range (inclusive); default: `to` minus 60 buckets'),
  to: z.iso.datetime({ offset: true }).optional().describe('End of the range (exclusive); default: now'),
  bucket: BucketSchema.default('minute'),
});

const PowerStats = {
  start: z.iso.datetime().describe('Bucket start, UTC'),
  count: z.number().int().describe('Readings in the bucket'),
  mean_w: z.number().describe('Mean of the readings, W'),
  min_w: z.number(),
  max_w: z.number(),
  energy_wh: z
    .number()
    .describe('Energy estimate: mean power over the bucket times its length (per device, summed over devices for a site)'),
};

export const DevicePointSchema = z.object(PowerStats);
export const SitePointSchema = z.object({
  ...PowerStats,
  devices: z.number().int().describe('Devices that reported in the bucket'),
});

export const DeviceSeriesSchema = z
  .object({ site_id: z.string(), device_id: z.string(), bucket: BucketSchema, from: z.string(), to: z.string(), points: z.array(DevicePointSchema) })
  .describe('DeviceSeries');
export const SiteSeriesSchema = z
  .object({ site_id: z.string(), bucket: BucketSchema, from: z.string(), to: z.string(), points: z.array(SitePointSchema) })
  .describe('SiteSeries');

export const LatestReadingSchema = z.object({
  timestamp: z.string(),
  power_reading: z.number(),
  stream_id: z.string(),
});

export const DeviceSummarySchema = z
  .object({
    site_id: z.string(),
    device_id: z.string(),
    count: z.number().int().describe('Readings processed since the device was first seen'),
    mean_w: z.number().nullable(),
    min_w: z.number().nullable(),
    max_w: z.number().nullable(),
    latest: LatestReadingSchema.nullable().describe('The reading with the latest timestamp'),
  })
  .describe('DeviceSummary');

export const SiteDevicesSchema = z
  .object({ site_id: z.string(), devices: z.array(DeviceSummarySchema) })
  .describe('SiteDevices');

export const SitesSchema = z
  .object({ sites: z.array(z.object({ site_id: z.string(), devices: z.number().int(), count: z.number().int() })) })
  .describe('Sites');

export const SitePathSchema = z.strictObject({ site_id: IdSchema });
export const DevicePathSchema = z.strictObject({ site_id: IdSchema, device_id: IdSchema });

export const DeadLetterReasonSchema = z.enum(['invalid', 'max_deliveries']);

export const DeadLetterSchema = z
  .object({
    id: z.string().describe('Id in the dead-letter stream'),
    original_id: z.string().describe('Id the entry had in the main stream'),
    reason: DeadLetterReasonSchema,
    detail: z.string().describe('Why: the validation issues or the last processing error'),
    deliveries: z.number().int(),
    failed_at: z.iso.datetime(),
    fields: z.record(z.string(), z.string()).describe('The entry as it was in the stream'),
  })
  .describe('DeadLetter');

export const DeadLetterFilterSchema = z.strictObject({
  reason: DeadLetterReasonSchema.optional(),
  // Ids, normalized as readings' ids are, so a filter matches however it was spelled.
  site_id: IdSchema.optional(),
  device_id: IdSchema.optional(),
});

export const DeadLetterListQuerySchema = DeadLetterFilterSchema.extend({
  after: z.string().regex(/^\d+-\d+$/, 'must be a stream id such as 1700000000000-0').optional().describe('Cursor: list entries after this id'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const DeadLetterPageSchema = z
  .object({ items: z.array(DeadLetterSchema), next: z.string().nullable().describe('Pass as `after` for the next page') })
  .describe('DeadLetterPage');

export const DeadLetterIdPathSchema = z.strictObject({ id: z.string().regex(/^\d+-\d+$/, 'must be a stream id') });

export const ReplayResultSchema = z
  .object({ replayed: z.number().int(), stream_ids: z.array(z.string()).describe('New ids in the main stream') })
  .describe('ReplayResult');
export const DeleteResultSchema = z.object({ deleted: z.number().int() }).describe('DeleteResult');
