import { parseArgs } from 'node:util';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { commonHelp, commonOptions, makeClient, parseNumber } from './options.js';
import { printJson } from './output.js';

export const sendHelp = `Usage: energy-pipeline send --site ID --device ID --power WATTS [options]

Sends one reading and prints the stream id it was stored under.

Options:
  --site ID           site id
  --device ID         device id
  --power WATTS       power in watts; negative for generation or export,
                      written with = (--power=-1200)
  --timestamp ISO     when it was measured (default: now), e.g. 2026-01-15T10:30:00Z
  --reading-id ID     idempotency key (default: a new UUID)
${commonHelp}`;

export async function send(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...commonOptions,
      site: { type: 'string' },
      device: { type: 'string' },
      power: { type: 'string' },
      timestamp: { type: 'string' },
      'reading-id': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(sendHelp);
    return 0;
  }
  const missing = (['site', 'device', 'power'] as const).filter((k) => values[k] === undefined);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((m) => `--${m}`).join(', ')}`);
  const client = makeClient(values, io);
  const result = await client.sendReading({
    site_id: values.site!,
    device_id: values.device!,
    power_reading: parseNumber(values.power, 'power'),
    timestamp: values.timestamp ?? new Date().toISOString(),
    ...(values['reading-id'] ? { reading_id: values['reading-id'] } : {}),
  });
  if (values.json) printJson(io, result);
  else io.stdout(`accepted: reading ${result.reading_id} stored as ${result.stream_id}\n`);
  return 0;
}
