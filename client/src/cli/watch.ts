import { Argument, type Command } from 'commander';
import type { PipelineLive, SiteLive } from '@energy-pipeline/contract';
import { formatAgo, formatRate, formatSeconds, formatWattHours, formatWatts } from '../format.js';
import { type CliIo, EXIT } from './io.js';
import { addCommonOptions, type CommonValues, makeClient } from './options.js';

/**
 * `watch site <id>` and `watch pipeline`: live views from the processor's subscriptions. On a
 * terminal the view is redrawn in place; otherwise (a pipe, a log) each update is one plain line,
 * and with --json one JSON event per line. Ctrl-C ends it with exit code 0.
 */
export function defineWatch(program: Command, io: CliIo, done: (code: number) => void) {
  const watch = program
    .command('watch')
    .summary('live views: a site, or the pipeline')
    .description('Live views from the processor (tRPC subscriptions over SSE). Ctrl-C stops them.');

  const site = watch
    .command('site')
    .summary("a site's devices, power now, energy today and quiet devices, live")
    .addArgument(new Argument('<site-id>', 'which site'));
  addCommonOptions(site).action(async (siteId: string, values: CommonValues) => {
    await run(io, values, (client, signal) => client.watch.site(siteId, { signal }), (event) => {
      const { data } = event as { data: { type: string; site?: SiteLive; notice?: { message: string } } };
      if (data.type === 'notice') return { line: `notice: ${data.notice!.message}` };
      if (data.type !== 'snapshot') return null;
      return { frame: siteFrame(data.site!, io.columns), line: siteLine(data.site!) };
    });
    done(EXIT.ok);
  });

  const pipeline = watch.command('pipeline').summary('lag, pending entries and rates per shard, live');
  addCommonOptions(pipeline).action(async (values: CommonValues) => {
    await run(io, values, (client, signal) => client.watch.pipeline({ signal }), (p) => ({
      frame: pipelineFrame(p as PipelineLive),
      line: pipelineLine(p as PipelineLive),
    }));
    done(EXIT.ok);
  });
  return watch;
}

type View = { frame?: string; line: string } | null;

async function run<T>(
  io: CliIo,
  values: CommonValues,
  open: (client: ReturnType<typeof makeClient>, signal: AbortSignal) => AsyncIterable<T>,
  view: (event: T) => View,
) {
  const controller = new AbortController();
  const stopWaiting = io.onInterrupt?.(() => controller.abort());
  const redraw = io.stdoutIsTTY === true && !values.json;
  if (redraw) io.stdout('\x1b[?25l'); // hide the cursor while redrawing
  try {
    for await (const event of open(makeClient(values, io), controller.signal)) {
      if (values.json) {
        io.stdout(`${JSON.stringify(event)}\n`);
        continue;
      }
      const shown = view(event);
      if (!shown) continue;
      // Home, clear to the end: the new frame replaces the old one without scrolling.
      if (redraw && shown.frame) io.stdout(`\x1b[H\x1b[J${shown.frame}\n\nCtrl-C to stop\n`);
      else io.stdout(`${shown.line}\n`);
    }
  } finally {
    stopWaiting?.();
    if (redraw) io.stdout('\x1b[?25h');
  }
}

const pad = (text: string, width: number) => (text.length >= width ? text : text + ' '.repeat(width - text.length));
const padStart = (text: string, width: number) => text.padStart(width);
const clock = (iso: string) => iso.slice(11, 19);

export function siteFrame(s: SiteLive, columns = 100): string {
  const idWidth = Math.min(Math.max(8, ...s.devices.map((d) => d.device_id.length)) + 2, Math.max(12, columns - 52));
  const rows = s.devices.map(
    (d) =>
      `${pad(d.device_id, idWidth)}${padStart(formatWatts(d.power_w), 11)}  ${pad(formatAgo(d.last_seen, Date.parse(s.at)), 13)}${padStart(formatSeconds(d.interval_s), 8)}  ${d.quiet ? 'QUIET' : 'reporting'}`,
  );
  return [
    `${s.site_id} (${s.time_zone})  ${clock(s.at)}   power now ${formatWatts(s.power_w)}`,
    `energy  minute ${formatWattHours(s.energy.minute.energy_wh)} · hour ${formatWattHours(s.energy.hour.energy_wh)} · today (${s.energy.day.period}) ${formatWattHours(s.energy.day.energy_wh)}`,
    '',
    `${pad('DEVICE', idWidth)}${padStart('POWER NOW', 11)}  ${pad('LAST READING', 13)}${padStart('INTERVAL', 8)}  STATE`,
    ...(rows.length ? rows : ['(no devices yet)']),
    '',
    `quiet: ${s.quiet.length ? s.quiet.join(', ') : 'none'}`,
  ].join('\n');
}

export function siteLine(s: SiteLive): string {
  return `${s.at} ${s.site_id} power ${formatWatts(s.power_w)} today ${formatWattHours(s.energy.day.energy_wh)} devices ${s.devices.length} quiet ${s.quiet.length ? s.quiet.join(',') : 'none'}`;
}

export function pipelineFrame(p: PipelineLive): string {
  const head = `${pad('SHARD', 7)}${pad('STREAM', 22)}${padStart('LENGTH', 8)}${padStart('LAG', 8)}${padStart('PENDING', 9)}${padStart('IN', 10)}${padStart('READ', 10)}${padStart('APPLIED', 10)}${padStart('DEAD', 7)}`;
  const rows = p.shards.map(
    (s) =>
      `${pad(String(s.shard), 7)}${pad(s.stream, 22)}${padStart(String(s.length), 8)}${padStart(String(s.lag ?? '?'), 8)}${padStart(String(s.pending), 9)}${padStart(formatRate(s.ingest_entries_per_s), 10)}${padStart(formatRate(s.read_entries_per_s), 10)}${padStart(formatRate(s.applied_readings_per_s), 10)}${padStart(String(s.dead_letters), 7)}`,
  );
  const consumers = p.shards.flatMap((s) => s.consumers.map((c) => `${c.name} (${c.pending} pending, idle ${formatSeconds(c.idle_ms / 1000)})`));
  return [
    `pipeline  group ${p.group}  ${clock(p.at)}  redis ${p.redis}`,
    '',
    head,
    ...rows,
    '',
    `consumers: ${consumers.length ? consumers.join(', ') : 'none'}`,
    'IN and READ: stream entries per second (a batch is one entry); APPLIED: readings per second',
  ].join('\n');
}

export function pipelineLine(p: PipelineLive): string {
  const t = p.totals;
  return `${p.at} redis ${p.redis} lag ${t.lag ?? '?'} pending ${t.pending} in ${formatRate(t.ingest_entries_per_s)} applied ${formatRate(t.applied_readings_per_s)} dead_letters ${t.dead_letters}`;
}
