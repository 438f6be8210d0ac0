#!/usr/bin/env node
// The `energy-pipeline` command. An installed package runs its built CLI (dist/cli.js). In a
// clone of the repository, where `npm ci` builds nothing, it runs the TypeScript sources through
// tsx instead, so `npx energy-pipeline` works there at once and never runs a stale build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const inRepository = existsSync(new URL('../tsdown.config.ts', import.meta.url));

if (!inRepository) {
  await import('../dist/cli.js');
} else {
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    process.stderr.write('energy-pipeline: tsx is not installed; run `npm ci` at the repository root, or `npm run build -w client`.\n');
    process.exit(1);
  }
  const source = fileURLToPath(new URL('../src/cli/bin.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@energy-pipeline/source', '--import', tsx, source, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Ctrl-C reaches the child too (same process group); it decides when to stop, and we follow.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? 128 + (constants.signals[signal] ?? 0);
  });
}
