import { z } from 'zod';
import { ErrorCodeSchema } from './errors.js';
import { exampleTime, withExamples } from './examples.js';
import { EXAMPLE_READING, IdSchema } from './reading.js';

/**
 * Aggregation buckets: minutes and hours in UTC, days and months in the site's time zone (so a
 * day lasts 23, 24 or 25 hours).
 */
export const BucketSchema = z.enum(['minute', 'hour', 'day', 'month']);
export type Bucket = z.infer<typeof BucketSchema>;
/** The buckets of fixed length, and their length. */
export type FixedBucket = 'minute' | 'hour';
export const BUCKET_SECONDS: Record<FixedBucket, number> = { minute: 60, hour: 3600 };
export const isFixedBucket = (bucket: Bucket): bucket is FixedBucket => bucket in BUCKET_SECONDS;

const HOUR_MS = 3_600_000;

/** The range "Try it out" asks for: the last hour (examples.ts moves it to the document's now). */
export const SeriesQuerySchema = z.strictObject({
  from: withExamples(
    z.iso.datetime({ offset: true }).optional().describe('Start of the range (inclusive); default: `to` minus 60 buckets'),
    exampleTime(-HOUR_MS),
  ),
  to: withExamples(z.iso.datetime({ offset: true }).optional().describe('End of the range (exclusive); default: now'), exampleTime()),
  bucket: BucketSchema.default('minute'),
});

const PowerStats = {
  start: z.iso.datetime().describe('Bucket start, UTC'),
  period: z.string().optional().describe("For day and month buckets: the date in the site's time zone, e.g. 2026-03-29 or 2026-03"),
  span_s: z.number().int().describe('Bucket length in seconds: a day lasts 23 or 25 hours when clocks change'),
  count: z.number().int().describe('Readings in the bucket'),
  mean_w: z.number().describe('Mean of the readings, W'),
  min_w: z.number(),
  max_w: z.number(),
  energy_wh: z
    .number()
    .describe('Energy estimate: mean power over the bucket times its length (per device, summed over devices for a site)'),
};

/** The series examples: the last hour's minute buckets, of which one had readings. */
const EXAMPLE_RANGE = { from: exampleTime(-HOUR_MS), to: exampleTime() };
const EXAMPLE_POINT = { start: exampleTime(-60_000), span_s: 60, count: 6, mean_w: 1500.5, min_w: 1480, max_w: 1521, energy_wh: 25.008 };

export const DevicePointSchema = z.object(PowerStats);
export const SitePointSchema = z.object({
  ...PowerStats,
  devices: z.number().int().describe('Devices that reported in the bucket'),
});

export const DeviceSeriesSchema = withExamples(
  z
    .object({ site_id: z.string(), device_id: z.string(), bucket: BucketSchema, from: z.string(), to: z.string(), points: z.array(DevicePointSchema) })
    .describe('DeviceSeries'),
  { site_id: 'site-001', device_id: 'device-001', bucket: 'minute', ...EXAMPLE_RANGE, points: [EXAMPLE_POINT] },
);
export const SiteSeriesSchema = withExamples(
  z
    .object({ site_id: z.string(), bucket: BucketSchema, from: z.string(), to: z.string(), points: z.array(SitePointSchema) })
    .describe('SiteSeries'),
  { site_id: 'site-001', bucket: 'minute', ...EXAMPLE_RANGE, points: [{ ...EXAMPLE_POINT, devices: 1 }] },
);

export const LatestReadingSchema = z.object({
  timestamp: z.string(),
  power_reading: z.number(),
  stream_id: z.string(),
});

const EXAMPLE_DEVICE = {
  site_id: 'site-001',
  device_id: 'device-001',
  count: 1440,
  mean_w: 1498.2,
  min_w: 0,
  max_w: 2950,
  latest: { timestamp: exampleTime(), power_reading: 1500.5, stream_id: '1768473000000-0' },
};

export const DeviceSummarySchema = withExamples(
  z
    .object({
      site_id: z.string(),
      device_id: z.string(),
      count: z.number().int().describe('Readings applied since the device was first seen'),
      mean_w: z.number().nullable(),
      min_w: z.number().nullable(),
      max_w: z.number().nullable(),
      latest: LatestReadingSchema.nullable().describe('The reading with the latest timestamp'),
    })
    .describe('DeviceSummary'),
  EXAMPLE_DEVICE,
);

/** The cursor of a list ordered by id: the last id of the previous page, or null after the last page. */
const NextIdSchema = z.string().nullable().describe('Pass as `after` for the next page; null on the last page');

export const SiteDevicesSchema = withExamples(
  z
    .object({ site_id: z.string(), devices: z.array(DeviceSummarySchema).describe('Ordered by device_id'), next: NextIdSchema })
    .describe('SiteDevices'),
  { site_id: 'site-001', devices: [EXAMPLE_DEVICE], next: null },
);

export const SitesSchema = withExamples(
  z
    .object({
      sites: z
        .array(z.object({ site_id: z.string(), devices: z.number().int(), count: z.number().int() }))
        .describe('Ordered by site_id (by its UTF-8 bytes)'),
      next: NextIdSchema,
    })
    .describe('Sites'),
  { sites: [{ site_id: 'site-001', devices: 12, count: 17280 }], next: 'site-001' },
);

/**
 * An IANA time zone such as `Europe/Berlin`, as the runtime's Intl knows it; an alias (`US/Pacific`)
 * becomes its canonical name (`America/Los_Angeles`), so that one zone has one spelling.
 */
export const TimeZoneSchema = z
  .string()
  .max(64)
  .transform((zone, ctx) => {
    try {
      return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an IANA time zone such as Europe/Berlin or UTC' });
      return z.NEVER;
    }
  })
  .describe('IANA time zone, e.g. Europe/Berlin');

export const SiteSettingsSchema = withExamples(
  z
    .strictObject({
      time_zone: withExamples(
        TimeZoneSchema.describe(
          "The site's IANA time zone: its day and month buckets follow it (a day lasts 23 or 25 hours when clocks change)",
        ),
        'Europe/Berlin',
      ),
    })
    .describe('SiteSettings'),
  { time_zone: 'Europe/Berlin' },
);

export const SiteSchema = withExamples(
  z
    .object({
      site_id: z.string(),
      time_zone: z.string().describe('IANA time zone of its days and months; UTC unless set'),
      devices: z.number().int().describe('Devices seen'),
      count: z.number().int().describe('Readings applied'),
    })
    .describe('Site'),
  { site_id: 'site-001', time_zone: 'Europe/Berlin', devices: 12, count: 17280 },
);

/** Path ids: the example reading's site and device, so "Try it out" finds what it stored on ingest. */
const SitePathId = withExamples(IdSchema, EXAMPLE_READING.site_id);
const DevicePathId = withExamples(IdSchema, EXAMPLE_READING.device_id);
export const SitePathSchema = z.strictObject({ site_id: SitePathId });
export const DevicePathSchema = z.strictObject({ site_id: SitePathId, device_id: DevicePathId });

/**
 * Why an entry or reading could not be applied: it failed validation (`validation_failed`), it was
 * delivered MAX_DELIVERIES times without being applied (`max_deliveries`), or adding it would take
 * a sum past the int64 range of the aggregates (`overflow`).
 */
export const DeadLetterReasonSchema = ErrorCodeSchema.extract(['validation_failed', 'max_deliveries', 'overflow']);

export const DeadLetterSchema = z
  .object({
    id: z.string().describe('Id in the dead-letter stream'),
    original_id: z.string().describe('Id the entry had in the main stream'),
    index: z.number().int().optional().describe('For one reading of a batch entry: its place in the batch'),
    reason: DeadLetterReasonSchema,
    detail: z.string().describe('Why: the validation issues or the last processing error'),
    deliveries: z.number().int(),
    failed_at: z.iso.datetime(),
    fields: z.record(z.string(), z.string()).describe('The entry as it was in the stream'),
  })
  .describe('DeadLetter');

/**
 * Its example names one site and one reason, so that "Try it out" on replay or delete never
 * touches every dead letter (an empty filter matches all of them).
 */
export const DeadLetterFilterSchema = withExamples(
  z.strictObject({
    reason: DeadLetterReasonSchema.optional(),
    // Ids, normalized as readings' ids are, so a filter matches however it was spelled.
    site_id: IdSchema.optional(),
    device_id: IdSchema.optional(),
  }),
  { reason: 'validation_failed', site_id: EXAMPLE_READING.site_id },
);

/** Redis keeps a stream id's two parts, milliseconds and sequence, as unsigned 64-bit integers. */
const U64_MAX = 2n ** 64n - 1n;
const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
const streamIdParts = (id: string) => {
  const m = STREAM_ID.exec(id);
  return m ? [BigInt(m[1]!), BigInt(m[2]!)] : null;
};

/** Orders stream ids as Redis does, by (ms, seq) as integers: "9-0" comes before "10-0". */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = streamIdParts(a) ?? [0n, 0n];
  const [bm, bs] = streamIdParts(b) ?? [0n, 0n];
  if (am !== bm) return am! < bm! ? -1 : 1;
  return as === bs ? 0 : as! < bs! ? -1 : 1;
}

/**
 * A stream id as Redis accepts it: `<ms>-<seq>`, each part at most 2^64 - 1. Checked here so that
 * an id Redis would refuse is a 400 naming the field, not a Redis error.
 */
export const StreamIdSchema = z
  .string()
  .regex(STREAM_ID, 'must be a stream id such as 1700000000000-0')
  .refine((id) => streamIdParts(id)?.every((part) => part <= U64_MAX) ?? true, {
    message: `must be a stream id whose two parts are each at most ${U64_MAX}`,
  });

/** An exclusive cursor: an id something can come after, i.e. below the largest one (Redis refuses `(` + the largest). */
const StreamCursorSchema = StreamIdSchema.refine((id) => !streamIdParts(id)?.every((part) => part === U64_MAX), {
  message: 'must be below the largest stream id: nothing comes after it',
});

/** Most items one page of a list may hold (`limit`), and how many it holds unless asked. */
export const PAGE_MAX_LIMIT = 1000;
export const PAGE_DEFAULT_LIMIT = 100;
const LimitSchema = z.coerce.number().int().min(1).max(PAGE_MAX_LIMIT).default(PAGE_DEFAULT_LIMIT);

/** One page of a list ordered by id: the ids after `after` (exclusive), at most `limit` of them. */
export const IdPageQuerySchema = z.strictObject({
  after: IdSchema.optional().describe('Cursor: list the ids after this one (the `next` of the previous page)'),
  limit: LimitSchema,
});

export const DeadLetterListQuerySchema = DeadLetterFilterSchema.extend({
  after: StreamCursorSchema.optional().describe('Cursor: list entries after this id (the `next` of the previous page)'),
  limit: LimitSchema,
});

export const DeadLetterPageSchema = withExamples(
  z
    .object({ items: z.array(DeadLetterSchema), next: z.string().nullable().describe('Pass as `after` for the next page') })
    .describe('DeadLetterPage'),
  {
    items: [
      {
        id: '1768472400000-0',
        original_id: '1768472390000-0',
        reason: 'validation_failed',
        detail: 'power_reading must be a finite number of watts',
        deliveries: 1,
        failed_at: exampleTime(-600_000),
        fields: { site_id: 'site-001', device_id: 'device-001', power_reading: 'NaN', timestamp: exampleTime(-610_000) },
      },
    ],
    next: null,
  },
);

export const DeadLetterIdPathSchema = z.strictObject({ id: withExamples(StreamIdSchema, '1768473000000-0') });

export const ReplayResultSchema = withExamples(
  z
    .object({ replayed: z.number().int(), stream_ids: z.array(z.string()).describe('New ids in the main stream') })
    .describe('ReplayResult'),
  { replayed: 1, stream_ids: ['1768473000000-0'] },
);
export const DeleteResultSchema = withExamples(
  z.object({ deleted: z.number().int() }).describe('DeleteResult'),
  { deleted: 1 },
);
