import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ingestContract, processContract } from '@energy-pipeline/contract';
import { buildOpenApiDocument } from '@energy-pipeline/contract/openapi';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const redocly = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'openapi-lint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

/**
 * `redocly lint` with the repository's redocly.yaml (the recommended ruleset; what it changes is
 * said and justified there). Offline: no usage reports, no update check, no API registry.
 */
function lint(file: string): Promise<{ code: number; report: LintReport; stderr: string }> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [redocly, 'lint', '--config', join(root, 'redocly.yaml'), '--format', 'json', file],
      { cwd: dir, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', CI: 'true' }, timeout: 120_000 },
      (err, stdout, stderr) => {
        try {
          done({ code: err ? Number(err.code ?? 1) : 0, report: JSON.parse(stdout) as LintReport, stderr });
        } catch (parseError) {
          fail(new Error(`redocly printed no report (${String(err ?? parseError)}):\n${stderr}\n${stdout}`));
        }
      },
    );
  });
}

describe.each([
  ['ingest', ingestContract, 'energy-pipeline ingest'],
  ['process', processContract, 'energy-pipeline processor'],
])('the %s OpenAPI document', (name, contract, title) => {
  it('passes redocly lint (recommended rules) with no error and no warning', { timeout: 180_000 }, async () => {
    // As the service serves it, auth on (the stricter wording; the same structure either way).
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(buildOpenApiDocument(contract, { title, version: '1' }, { authEnabled: true }), null, 2));
    const { code, report, stderr } = await lint(file);
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
    expect(problems, stderr).toEqual([]);
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
    expect(code).toBe(0);
  });
});

describe('the lint itself', () => {
  it('finds what the recommended rules and redocly.yaml forbid', { timeout: 180_000 }, async () => {
    const doc = buildOpenApiDocument(processContract, { title: 'bad', version: '1' }) as Record<string, unknown> & { paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>> };
    delete (doc.info as { license?: unknown }).license;
    delete doc.servers;
    delete doc.paths['/health']!.get!.security;
    // A route that needs a key but forgets 401 and 403.
    const sites = doc.paths['/sites']!.get!;
    delete sites.responses['401'];
    delete sites.responses['403'];
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(doc));
    const { code, report } = await lint(file);
    expect(new Set(report.problems.map((p) => p.ruleId))).toEqual(
      new Set(['info-license', 'no-empty-servers', 'security-defined', 'rule/keyed-operation-401-403']),
    );
    expect(code).toBe(1);
  });
});
