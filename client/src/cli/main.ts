import { CommanderError } from 'commander';
import { type CliIo, EXIT } from './io.js';
import { reportError } from './output.js';
import { buildProgram } from './program.js';

/** Runs the CLI; returns the exit code (see `exitCodesHelp`). */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed the message (or the help, or the version) already.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      return EXIT.usage;
    }
    const command = argv.find((a) => program.commands.some((c) => c.name() === a)) ?? '';
    return reportError(err, io, command);
  }
}
