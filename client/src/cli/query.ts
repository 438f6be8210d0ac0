import { parseArgs } from 'node:util';
import type { EnergyPipelineClient } from '../client.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { commonHelp, commonOptions, makeClient } from './options.js';
import { printJson } from './output.js';

const queryOptions = {
  ...commonOptions,
  site: { type: 'string' },
  device: { type: 'string' },
  bucket: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  reason: { type: 'string' },
  limit: { type: 'string' },
} as const;

type Values = { site?: string; device?: string; bucket?: string; from?: string; to?: string; reason?: string; limit?: string };
type Processor = EnergyPipelineClient['processor'];
type Metrics = Awaited<ReturnType<Processor['metrics']>>;
type Health = Awaited<ReturnType<Processor['health']>>;
type Sites = Awaited<ReturnType<Processor['sites']>>;
type SiteDevices = Awaited<ReturnType<Processor['siteDevices']>>;
type Series = Awaited<ReturnType<Processor['siteSeries']>> | Awaited<ReturnType<Processor['deviceSeries']>>;
type DeadLetterPage = Awaited<ReturnType<Processor['listDeadLetters']>>;

const need = (value: string | undefined, flag: string, what: string) => {
  if (!value) throw new UsageError(`query ${what} needs --${flag}`);
  return value;
};
const w = (n: number | null) => (n === null ? '-' : `${Math.round(n * 10) / 10} W`);
const bucketOf = (v: Values): 'minute' | 'hour' => {
  if (v.bucket !== undefined && v.bucket !== 'minute' && v.bucket !== 'hour') throw new UsageError('--bucket must be minute or hour');
  return v.bucket ?? 'minute';
};
const range = (v: Values) => ({ bucket: bucketOf(v), ...(v.from ? { from: v.from } : {}), ...(v.to ? { to: v.to } : {}) });
const seriesText = (s: Series) =>
  [
    `${s.bucket} buckets from ${s.from} to ${s.to}: ${s.points.length} with readings`,
    ...s.points.map((p) => `${p.start}  ${String(p.count).padStart(6)} readings  mean ${w(p.mean_w)}  min ${w(p.min_w)}  max ${w(p.max_w)}  ${Math.round(p.energy_wh * 1000) / 1000} Wh`),
  ].join('\n');

/** One entry per `query` subcommand: fetch from the processor, then format as text. */
const queries: Record<string, { about: string; fetch: (c: EnergyPipelineClient, v: Values) => Promise<unknown>; text: (v: never) => string }> = {
  metrics: {
    about: 'stream, consumer group and processing counters',
    fetch: (c) => c.processor.metrics(),
    text: (m: Metrics) =>
      [
        `stream ${m.stream.name}: ${m.stream.length} entries (first ${m.stream.first_id ?? '-'}, last ${m.stream.last_id ?? '-'})`,
        `group ${m.group.name}: lag ${m.group.lag ?? 'unknown'}, pending ${m.group.pending}, last delivered ${m.group.last_delivered_id ?? '-'}`,
        `processed: ${m.processed.total} total, ${m.processed.invalid} invalid, ${m.processed.dead_lettered} dead-lettered`,
        ...m.group.consumers.map((c) => `consumer ${c.name}: ${c.pending} pending, idle ${c.idle_ms} ms`),
      ].join('\n'),
  },
  health: {
    about: 'whether the processor runs and reaches Redis',
    fetch: (c) => c.processor.health(),
    text: (h: Health) =>
      [
        `status ${h.status}, redis ${h.redis}, consumer ${h.consumer} in group ${h.group}, ${h.running ? 'running' : 'stopped'}`,
        `pending ${h.pending ?? 'unknown'}, last activity ${h.last_activity ?? 'never'}, up ${h.uptime_s} s`,
      ].join('\n'),
  },
  sites: {
    about: 'sites seen, with device and reading counts',
    fetch: (c) => c.processor.sites(),
    text: (s: Sites) => s.sites.map((x) => `${x.site_id}: ${x.devices} devices, ${x.count} readings`).join('\n') || 'no sites yet',
  },
  devices: {
    about: "a site's devices with totals and latest reading (--site)",
    fetch: (c, v) => c.processor.siteDevices({ params: { site_id: need(v.site, 'site', 'devices') } }),
    text: (s: SiteDevices) =>
      s.devices
        .map((d) => `${d.device_id}: ${d.count} readings, mean ${w(d.mean_w)}, latest ${d.latest ? `${w(d.latest.power_reading)} at ${d.latest.timestamp}` : '-'}`)
        .join('\n'),
  },
  series: {
    about: 'power and energy per bucket (--site, optional --device, --bucket minute|hour, --from, --to)',
    fetch: (c, v) => {
      const site = need(v.site, 'site', 'series');
      return v.device
        ? c.processor.deviceSeries({ params: { site_id: site, device_id: v.device }, query: range(v) })
        : c.processor.siteSeries({ params: { site_id: site }, query: range(v) });
    },
    text: seriesText,
  },
  'dead-letters': {
    about: 'entries that could not be processed (optional --reason, --site, --device, --limit)',
    fetch: (c, v) => {
      if (v.reason !== undefined && v.reason !== 'invalid' && v.reason !== 'max_deliveries') {
        throw new UsageError('--reason must be invalid or max_deliveries');
      }
      return c.processor.listDeadLetters({
        query: {
          ...(v.reason ? { reason: v.reason as 'invalid' | 'max_deliveries' } : {}),
          ...(v.site ? { site_id: v.site } : {}),
          ...(v.device ? { device_id: v.device } : {}),
          ...(v.limit ? { limit: Number(v.limit) } : {}),
        },
      });
    },
    text: (p: DeadLetterPage) =>
      [
        ...p.items.map((d) => `${d.id} ${d.reason} after ${d.deliveries} deliveries: ${d.detail} ${JSON.stringify(d.fields)}`),
        p.next ? `more: --after ${p.next}` : `${p.items.length} dead letters`,
      ].join('\n'),
  },
};

export const queryHelp = `Usage: energy-pipeline query [WHAT] [options]

Prints processed figures from the processor API.

WHAT:
${Object.entries(queries)
  .map(([name, q]) => `  ${name.padEnd(18)}${q.about}`)
  .join('\n')}
  (default: metrics)

Query options:
  --site ID, --device ID      which site or device
  --bucket minute|hour        series bucket size (default minute)
  --from TIME, --to TIME      series range, ISO 8601 with a zone (default: the last 60 buckets)
  --reason R, --limit N       dead-letter filter and page size
${commonHelp}`;

export async function query(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: queryOptions, strict: true, allowPositionals: true });
  if (values.help) {
    io.stdout(queryHelp);
    return 0;
  }
  const what = positionals[0] ?? 'metrics';
  const q = queries[what];
  if (!q || positionals.length > 1) throw new UsageError(`unknown query "${positionals.join(' ')}"; one of: ${Object.keys(queries).join(', ')}`);
  const value = await q.fetch(makeClient(values, io), values);
  if (values.json) printJson(io, value);
  else io.stdout(`${q.text(value as never)}\n`);
  return 0;
}
