#!/usr/bin/env node
import { processIo } from './io.js';
import { main } from './main.js';

// `energy-pipeline … | head` closes the pipe early: stop quietly, as other commands do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await main(process.argv.slice(2), processIo());
