import { type CliIo, UsageError } from './io.js';
import { reportError } from './output.js';
import { query } from './query.js';
import { send } from './send.js';
import { simulate } from './simulate.js';

const commands: Record<string, (argv: string[], io: CliIo) => Promise<number>> = { send, simulate, query };

export const mainHelp = `Usage: energy-pipeline <command> [options]

Commands:
  send       send one reading
  simulate   simulate a fleet of solar inverters and household meters
  query      print processed figures from the processor

Run "energy-pipeline <command> --help" for a command's options.
`;

/** Runs the CLI; returns the exit code (0 ok, 1 failed, 2 bad command line). */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(mainHelp);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    io.stderr(`energy-pipeline: unknown command "${name}"\n\n${mainHelp}`);
    return 2;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    // parseArgs throws TypeErrors with a code for unknown or malformed options.
    const code = (err as { code?: string }).code;
    if (code?.startsWith('ERR_PARSE_ARGS')) return reportError(new UsageError((err as Error).message), io, name);
    return reportError(err, io, name);
  }
}
