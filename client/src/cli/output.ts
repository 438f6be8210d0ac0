import { EnergyPipelineError } from '../errors.js';
import { type CliIo, EXIT, UsageError } from './io.js';

/** Prints an error the way a person can act on it and returns the exit code. */
export function reportError(err: unknown, io: CliIo, command: string): number {
  const prefix = command ? `energy-pipeline ${command}` : 'energy-pipeline';
  if (err instanceof UsageError) {
    io.stderr(`${prefix}: ${err.message}\nRun "${prefix} --help" for usage.\n`);
    return EXIT.usage;
  }
  if (err instanceof EnergyPipelineError) {
    const where = err.status ? `HTTP ${err.status}` : err.kind;
    io.stderr(`${prefix}: ${where}: ${err.message}\n`);
    // The wrong fields of a validation_failed, the differing ones of a conflict.
    for (const i of err.issues) io.stderr(`  ${i.path || i.in}: ${i.message}\n`);
    if (err.storedBefore === 'unknown') io.stderr('  stored before: unknown (if this resends a reading sent earlier, that copy may be stored)\n');
    if (err.attempts > 1) io.stderr(`  (gave up after ${err.attempts} attempts)\n`);
    return EXIT.failed;
  }
  io.stderr(`${prefix}: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT.failed;
}

export function printJson(io: CliIo, value: unknown) {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
