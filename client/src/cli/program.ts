import { readFileSync } from 'node:fs';
import { Argument, Command } from 'commander';
import { bashCompletion, zshCompletion } from './completion.js';
import { type CliIo, EXIT, exitCodesHelp } from './io.js';
import { defineQuery } from './query.js';
import { defineSend } from './send.js';
import { defineSimulate } from './simulate.js';
import { defineWatch } from './watch.js';

/** This package's version: its package.json is one level up from dist/, two from src/cli/. */
export function packageVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === '@energy-pipeline/client' && manifest.version) return manifest.version;
    } catch {
      // not this one
    }
  }
  return 'unknown';
}

/**
 * The whole command line as one commander program; `done` receives the exit code of the command
 * that ran. Built afresh for each run: commander keeps parsed values on the program.
 */
export function buildProgram(io: CliIo, done: (code: number) => void): Command {
  const program = new Command('energy-pipeline')
    .description('Send power readings to energy-pipeline and read back what it made of them.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError()
    .exitOverride()
    .addHelpText('after', exitCodesHelp);
  defineSend(program, io, done);
  defineSimulate(program, io, done);
  defineQuery(program, io, done);
  defineWatch(program, io, done);
  program
    .command('completion')
    .summary('print a shell completion script')
    .description(
      `Prints a completion script for bash or zsh.
  bash:  source <(energy-pipeline completion bash)      (or save it in ~/.local/share/bash-completion/completions/energy-pipeline)
  zsh:   source <(energy-pipeline completion zsh)       (after compinit; or save it as _energy-pipeline on $fpath)`,
    )
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh') => {
      io.stdout(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
      done(EXIT.ok);
    });
  for (const command of program.commands) command.addHelpText('after', exitCodesHelp);
  return program;
}
