import { DeadLetterReasonSchema } from '@energy-pipeline/contract';
import { Argument, type Command, Option } from 'commander';
import type { EnergyPipelineClient } from '../client.js';
import { type CliIo, EXIT, UsageError } from './io.js';
import { addCommonOptions, type CommonValues, makeClient, numberParser } from './options.js';
import { printJson } from './output.js';

interface Values extends CommonValues {
  site?: string;
  device?: string;
  bucket: 'minute' | 'hour';
  from?: string;
  to?: string;
  reason?: (typeof DeadLetterReasonSchema.options)[number];
  limit?: number;
  after?: string;
}
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
const range = (v: Values) => ({ bucket: v.bucket, ...(v.from ? { from: v.from } : {}), ...(v.to ? { to: v.to } : {}) });
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
        `applied: ${m.applied.total} readings, ${m.applied.validation_failed} failed validation, ${m.applied.dead_lettered} dead-lettered`,
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
    about: 'entries that could not be processed (optional --reason, --site, --device, --limit, --after)',
    fetch: (c, v) =>
      c.processor.listDeadLetters({
        query: {
          ...(v.reason ? { reason: v.reason } : {}),
          ...(v.site ? { site_id: v.site } : {}),
          ...(v.device ? { device_id: v.device } : {}),
          ...(v.limit ? { limit: v.limit } : {}),
          ...(v.after ? { after: v.after } : {}),
        },
      }),
    text: (p: DeadLetterPage) =>
      [
        ...p.items.map((d) => `${d.id} ${d.reason} after ${d.deliveries} deliveries: ${d.detail} ${JSON.stringify(d.fields)}`),
        p.next ? `more: --after ${p.next}` : `${p.items.length} dead letters`,
      ].join('\n'),
  },
};

export function defineQuery(program: Command, io: CliIo, done: (code: number) => void) {
  const command = program
    .command('query')
    .summary('print processed figures from the processor')
    .description('Prints processed figures from the processor API.')
    .addArgument(
      new Argument('[what]', Object.entries(queries).map(([name, q]) => `${name}: ${q.about}`).join('\n'))
        .choices(Object.keys(queries))
        .default('metrics'),
    )
    .addOption(new Option('--site <id>', 'which site'))
    .addOption(new Option('--device <id>', 'which device'))
    .addOption(new Option('--bucket <size>', 'series bucket size').choices(['minute', 'hour']).default('minute'))
    .addOption(new Option('--from <time>', 'series start, ISO 8601 with a zone (default: 60 buckets back)'))
    .addOption(new Option('--to <time>', 'series end (default: now)'))
    .addOption(new Option('--reason <reason>', 'dead letters for this reason only').choices(DeadLetterReasonSchema.options))
    .addOption(new Option('--limit <n>', 'dead letters per page (default 100)').argParser(numberParser({ min: 1, integer: true })))
    .addOption(new Option('--after <id>', 'dead letters after this id: the next page, as printed after "more:"'));
  addCommonOptions(command).action(async (what: string, values: Values) => {
    const q = queries[what]!;
    const value = await q.fetch(makeClient(values, io), values);
    if (values.json) printJson(io, value);
    else io.stdout(`${q.text(value as never)}\n`);
    done(EXIT.ok);
  });
  return command;
}
