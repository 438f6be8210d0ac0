import { EnergyPipelineError, ValidationError } from '../errors.js';
import { type CliIo, UsageError } from './io.js';

/** Prints an error the way a person can act on it and returns the exit code. */
export function reportError(err: unknown, io: CliIo, command: string): number {
  if (err instanceof UsageError) {
    io.stderr(`energy-pipeline ${command}: ${err.message}\nRun "energy-pipeline ${command} --help" for usage.\n`);
    return 2;
  }
  if (err instanceof EnergyPipelineError) {
    const where = err.status ? `HTTP ${err.status}` : err.kind;
    io.stderr(`energy-pipeline ${command}: ${where}: ${err.message}\n`);
    if (err instanceof ValidationError) for (const i of err.issues) io.stderr(`  ${i.path || i.in}: ${i.message}\n`);
    if (err.attempts > 1) io.stderr(`  (gave up after ${err.attempts} attempts)\n`);
    return 1;
  }
  io.stderr(`energy-pipeline ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}

export function printJson(io: CliIo, value: unknown) {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
