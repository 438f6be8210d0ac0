import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ingestEnvShape } from '../../ingest/src/config/config.js';
import { processEnvShape } from '../../process/src/config/config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Row {
  name: string;
  /** The values in backticks in the Default cell: none (no default), one, or `ingest` / `process`. */
  defaults: string[];
  service: string;
}

/** The rows of the table under "## Configuration" in docs/operations.md. */
function configTable(): Row[] {
  const doc = readFileSync(join(root, 'docs/operations.md'), 'utf8');
  const section = doc.split('\n## Configuration\n')[1]!.split('\n## ')[0]!;
  return section
    .split('\n')
    .filter((line) => /^\| `[A-Z0-9_]+` \|/.test(line))
    .map((line) => {
      const [name, fallback, service] = line.split('|').slice(1, 4).map((c) => c.trim()) as [string, string, string];
      return { name: name.slice(1, -1), defaults: [...fallback.matchAll(/`([^`]*)`/g)].map((m) => m[1]!), service };
    });
}

/** What each variable is when unset, as the service parses it (undefined: no default). */
const defaultsOf = (shape: z.ZodRawShape): Record<string, unknown> => z.object(shape).parse({});

const services = { ingest: ingestEnvShape, process: processEnvShape } as const;
const rows = configTable();

describe("docs/operations.md's configuration table", () => {
  it('has one row per variable', () => {
    const names = rows.map((r) => r.name);
    expect(names.length).toBeGreaterThan(40);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('names every variable the services read, and only those', () => {
    const read = new Set([...Object.keys(ingestEnvShape), ...Object.keys(processEnvShape)]);
    expect(rows.map((r) => r.name).sort()).toEqual([...read].sort());
  });

  it('says which service reads each variable', () => {
    for (const row of rows) {
      const readers = Object.entries(services).filter(([, shape]) => row.name in shape).map(([name]) => name);
      expect(row.service, row.name).toBe(readers.length === 2 ? 'both' : readers[0]);
    }
  });

  it('states the schemas’ defaults', () => {
    const defaults = { ingest: defaultsOf(ingestEnvShape), process: defaultsOf(processEnvShape) };
    for (const row of rows) {
      const readers = (['ingest', 'process'] as const).filter((s) => row.name in services[s]);
      readers.forEach((service, i) => {
        const actual = defaults[service][row.name];
        // Two values (`8000` / `8001`) are ingest's and the processor's, in that order.
        const stated = row.defaults.length === 2 ? row.defaults[i] : row.defaults[0];
        expect(stated, `${row.name} (${service})`).toBe(actual === undefined ? undefined : String(actual));
      });
    }
  });
});
