import { parseArgs } from 'node:util';
import type { EnergyPipelineClient } from '../client.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { commonHelp, commonOptions, makeClient } from './options.js';
import { printJson } from './output.js';

/**
 * One entry per `query` subcommand: fetch from the processor, then format as text. A new
 * processor route (series, dead letters) is one more entry here.
 */
const queries: Record<string, { about: string; fetch: (c: EnergyPipelineClient) => Promise<unknown>; text: (v: never) => string }> = {
  metrics: {
    about: 'stream, consumer group and processing counters',
    fetch: (c) => c.processor.metrics(),
    text: (m: Awaited<ReturnType<EnergyPipelineClient['processor']['metrics']>>) =>
      [
        `stream ${m.stream.name}: ${m.stream.length} entries (first ${m.stream.first_id ?? '-'}, last ${m.stream.last_id ?? '-'})`,
        `group ${m.group.name}: lag ${m.group.lag ?? 'unknown'}, pending ${m.group.pending}, last delivered ${m.group.last_delivered_id ?? '-'}`,
        `processed: ${m.processed.total} total, ${m.processed.invalid} invalid`,
        ...m.group.consumers.map((c) => `consumer ${c.name}: ${c.pending} pending, idle ${c.idle_ms} ms`),
      ].join('\n'),
  },
  health: {
    about: 'whether the processor runs and reaches Redis',
    fetch: (c) => c.processor.health(),
    text: (h: Awaited<ReturnType<EnergyPipelineClient['processor']['health']>>) =>
      [
        `status ${h.status}, redis ${h.redis}, consumer ${h.consumer} in group ${h.group}, ${h.running ? 'running' : 'stopped'}`,
        `pending ${h.pending ?? 'unknown'}, last activity ${h.last_activity ?? 'never'}, up ${h.uptime_s} s`,
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
${commonHelp}`;

export async function query(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: commonOptions, strict: true, allowPositionals: true });
  if (values.help) {
    io.stdout(queryHelp);
    return 0;
  }
  const what = positionals[0] ?? 'metrics';
  const q = queries[what];
  if (!q || positionals.length > 1) throw new UsageError(`unknown query "${positionals.join(' ')}"; one of: ${Object.keys(queries).join(', ')}`);
  const value = await q.fetch(makeClient(values, io));
  if (values.json) printJson(io, value);
  else io.stdout(`${q.text(value as never)}\n`);
  return 0;
}
