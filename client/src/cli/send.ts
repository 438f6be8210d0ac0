import { type Command, Option } from 'commander';
import { EnergyPipelineError } from '../errors.js';
import { type CliIo, EXIT, UsageError } from './io.js';
import { addCommonOptions, type CommonValues, makeClient, numberParser } from './options.js';
import { printJson } from './output.js';

interface SendValues extends CommonValues {
  site?: string;
  device?: string;
  power?: number;
  timestamp?: string;
  readingId?: string;
  seq?: number;
}

export function defineSend(program: Command, io: CliIo, done: (code: number) => void) {
  const command = program
    .command('send')
    .summary('send one reading')
    .description(
      `Sends one reading and prints the stream id it was stored under. A reading that an attempt whose
answer was lost may have stored, and that the server could no longer check when it was resent,
is reported "unconfirmed" (exit code 0): it is not a refusal.`,
    )
    .addOption(new Option('--site <id>', 'site id (required)'))
    .addOption(new Option('--device <id>', 'device id (required)'))
    .addOption(new Option('--power <watts>', 'power in watts (required); negative for generation or export, e.g. --power -1200').argParser(numberParser()))
    .addOption(new Option('--timestamp <iso>', 'when it was measured, e.g. 2026-01-15T10:30:00Z (default: now)'))
    .addOption(new Option('--reading-id <id>', 'idempotency key (default: a new UUID)'))
    .addOption(new Option('--seq <n>', "the device's sequence number (default: the clock in microseconds)").argParser(numberParser({ min: 0, integer: true })));
  addCommonOptions(command).action(async (values: SendValues) => {
    const missing = (['site', 'device', 'power'] as const).filter((k) => values[k] === undefined);
    if (missing.length > 0) throw new UsageError(`missing ${missing.map((m) => `--${m}`).join(', ')}`);
    const client = makeClient(values, io);
    // Identified here, so that an answer without the reading_id can still name it.
    const reading = client.identify({
      site_id: values.site!,
      device_id: values.device!,
      power_reading: values.power!,
      timestamp: values.timestamp ?? new Date().toISOString(),
      ...(values.readingId ? { reading_id: values.readingId } : {}),
      ...(values.seq !== undefined ? { seq: values.seq } : {}),
    });
    let result: Awaited<ReturnType<typeof client.sendReading>>;
    try {
      result = await client.sendReading(reading);
    } catch (err) {
      if (!(err instanceof EnergyPipelineError && err.unconfirmed)) throw err;
      // Not a refusal: an attempt whose answer was lost may have stored it (see err.unconfirmed).
      const { reading_id } = reading;
      if (values.json) printJson(io, { reading_id, stream_id: null, status: 'unconfirmed', error: err.kind, stored_before: err.storedBefore, message: err.message });
      else io.stdout(`unconfirmed: reading ${reading_id} may already be stored (answer lost earlier; too old to check)\n`);
      return done(EXIT.ok);
    }
    if (values.json) printJson(io, result);
    else io.stdout(`accepted: reading ${result.reading_id} stored as ${result.stream_id}\n`);
    done(EXIT.ok);
  });
  return command;
}
