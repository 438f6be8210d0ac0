import { type Command, InvalidArgumentError, Option } from 'commander';
import { EnergyPipelineClient } from '../client.js';
import type { CliIo } from './io.js';

/** Values of the options every command that talks to a server takes (commander camel-cases them). */
export interface CommonValues {
  ingestUrl?: string;
  processUrl?: string;
  apiKey?: string;
  processApiKey?: string;
  timeout?: number;
  json?: boolean;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `10s`, `5m`, `1h`, `2d`; a bare number is seconds. A commander argument parser. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('Not a duration such as 500ms, 10s, 5m or 1h.');
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!);
}

/** A commander argument parser for numbers, with a lower bound and optionally integers only. */
export function numberParser({ min = -Infinity, integer = false } = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`Not ${integer ? 'an integer' : 'a number'}${min > -Infinity ? ` of at least ${min}` : ''}.`);
    }
    return n;
  };
}

/** Adds the connection and output options; each also reads an environment variable. */
export function addCommonOptions(command: Command): Command {
  return command
    .addOption(new Option('--ingest-url <url>', 'ingest API (env ENERGY_PIPELINE_INGEST_URL, default http://localhost:8000)'))
    .addOption(new Option('--process-url <url>', 'processor API (env ENERGY_PIPELINE_PROCESS_URL, default http://localhost:8001)'))
    .addOption(new Option('--api-key <key>', 'sent as a Bearer token to both services (env ENERGY_PIPELINE_API_KEY)'))
    .addOption(
      new Option('--process-api-key <key>', 'key for the processor instead, e.g. a read or admin key (env ENERGY_PIPELINE_PROCESS_API_KEY)'),
    )
    .addOption(new Option('--timeout <duration>', 'per request, e.g. 500ms, 10s').argParser(parseDuration).default(10_000, '10s'))
    .option('--json', 'print JSON instead of text');
}

export function makeClient(values: CommonValues, io: CliIo, extra: { batchSize?: number } = {}): EnergyPipelineClient {
  const apiKey = values.apiKey ?? io.env['ENERGY_PIPELINE_API_KEY'];
  const processApiKey = values.processApiKey ?? io.env['ENERGY_PIPELINE_PROCESS_API_KEY'];
  return new EnergyPipelineClient({
    ingestUrl: values.ingestUrl ?? io.env['ENERGY_PIPELINE_INGEST_URL'] ?? 'http://localhost:8000',
    processUrl: values.processUrl ?? io.env['ENERGY_PIPELINE_PROCESS_URL'] ?? 'http://localhost:8001',
    ...(apiKey ? { apiKey } : {}),
    ...(processApiKey ? { processApiKey } : {}),
    timeoutMs: values.timeout ?? 10_000,
    ...extra,
  });
}
