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
      // Commander has printed the message (or the help, or the version) already. It exits 0 for
      // help asked for and the version, 1 for any wrong command line (no command included).
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const command = argv.find((a) => program.commands.some((c) => c.name() === a)) ?? '';
    return reportError(err, io, command);
  }
}
