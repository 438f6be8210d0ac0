/**
 * Grafana's dashboard schema, offline: @grafana/schema publishes the TypeScript types Grafana
 * generates from its CUE schema (the dashboard, and each panel plugin's options and field
 * config); ts-json-schema-generator turns them into JSON Schemas, and Ajv compiles them. Objects
 * get no properties the types do not declare, so a misspelt key fails too.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { createGenerator } from 'ts-json-schema-generator';
import { repoRoot } from '../deploy/helm.js';

const require = createRequire(import.meta.url);
const typesDir = join(dirname(require.resolve('@grafana/schema/package.json')), 'dist/types/raw');

/** The @grafana/schema version the schemas come from. */
export const grafanaSchemaVersion: string = require('@grafana/schema/package.json').version;

export interface GrafanaSchemas {
  dashboard: ValidateFunction;
  /** Per panel type: its `options`, and its `fieldConfig.defaults.custom`. */
  panels: Record<string, { options: ValidateFunction; fieldConfig: ValidateFunction }>;
}

const pascal = (s: string) => s.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());

/** Generates and compiles the schemas, from one TypeScript program (seconds): call it once per test file. */
export function grafanaSchemas(panelTypes: string[] = ['timeseries', 'stat']): GrafanaSchemas {
  // One entry file naming every type, so that the types are read once.
  const entry = join(repoRoot, 'node_modules/.cache/energy-pipeline', `grafana-schema-${grafanaSchemaVersion}-${process.pid}.ts`);
  mkdirSync(dirname(entry), { recursive: true });
  // Aliases, not re-exports: the generator finds root types by their declarations in this file.
  // The Ep prefix keeps them apart from Grafana's own names (it has a StatOptions of its own).
  const lines = [`import type { Dashboard as D } from '${join(typesDir, 'dashboard/x/types.gen')}';`, 'export type EpDashboard = D;'];
  for (const type of panelTypes) {
    const file = join(typesDir, `composable/${type}/panelcfg/x/types.gen`);
    const name = pascal(type);
    lines.push(`import type { Options as ${name}O, FieldConfig as ${name}F } from '${file}';`);
    lines.push(`export type Ep${name}Options = ${name}O;`, `export type Ep${name}FieldConfig = ${name}F;`);
  }
  writeFileSync(entry, `${lines.join('\n')}\n`);
  try {
    const generator = createGenerator({ path: entry, skipTypeCheck: true, topRef: true });
    const ajv = new Ajv({ allErrors: true, strict: false });
    const compile = (type: string) => ajv.compile(generator.createSchema(type));
    const panels: GrafanaSchemas['panels'] = {};
    for (const type of panelTypes) {
      panels[type] = { options: compile(`Ep${pascal(type)}Options`), fieldConfig: compile(`Ep${pascal(type)}FieldConfig`) };
    }
    return { dashboard: compile('EpDashboard'), panels };
  } finally {
    rmSync(entry, { force: true });
  }
}
