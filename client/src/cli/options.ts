import { EnergyPipelineClient } from '../client.js';
import { type CliIo, UsageError } from './io.js';

/** Options every command takes; each also reads an environment variable. */
export const commonOptions = {
  'ingest-url': { type: 'string' },
  'process-url': { type: 'string' },
  'api-key': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const commonHelp = `
Common options:
  --ingest-url URL    ingest API   (env ENERGY_PIPELINE_INGEST_URL, default http://localhost:8000)
  --process-url URL   processor API (env ENERGY_PIPELINE_PROCESS_URL, default http://localhost:8001)
  --api-key KEY       sent as a Bearer token (env ENERGY_PIPELINE_API_KEY)
  --timeout DURATION  per request, e.g. 10s (default 10s)
  --json              print JSON instead of text
  -h, --help          show this help
`;

type CommonValues = {
  'ingest-url'?: string;
  'process-url'?: string;
  'api-key'?: string;
  timeout?: string;
};

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `10s`, `5m`, `1h`, `2d`; a bare number is seconds. */
export function parseDuration(value: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new UsageError(`--${name} must be a duration such as 500ms, 10s, 5m or 1h (got "${value}")`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!);
}

export function parseNumber(value: string | undefined, name: string, { min = -Infinity, integer = false } = {}): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    const kind = integer ? 'an integer' : 'a number';
    throw new UsageError(`--${name} must be ${kind}${min > -Infinity ? ` of at least ${min}` : ''} (got "${value ?? ''}")`);
  }
  return n;
}

export function makeClient(values: CommonValues, io: CliIo, extra: { batchSize?: number } = {}): EnergyPipelineClient {
  const apiKey = values['api-key'] ?? io.env['ENERGY_PIPELINE_API_KEY'];
  const processUrl = values['process-url'] ?? io.env['ENERGY_PIPELINE_PROCESS_URL'] ?? 'http://localhost:8001';
  return new EnergyPipelineClient({
    ingestUrl: values['ingest-url'] ?? io.env['ENERGY_PIPELINE_INGEST_URL'] ?? 'http://localhost:8000',
    processUrl,
    ...(apiKey ? { apiKey } : {}),
    timeoutMs: values.timeout ? parseDuration(values.timeout, 'timeout') : 10_000,
    ...extra,
  });
}
