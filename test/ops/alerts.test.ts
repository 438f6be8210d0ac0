import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../deploy/helm.js';
import { promqlMetricNames, scrapeServices } from '../support/metric-names.js';
import { ensurePromtool, promtool } from '../support/promtool.js';
import { markdownAnchors } from '../support/markdown.js';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: AlertRule[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const rulesPath = join(repoRoot, 'ops/prometheus/alerts.yaml');
const testsPath = join(repoRoot, 'ops/prometheus/alerts.test.yaml');
const rules = parse(readFileSync(rulesPath, 'utf8')) as RuleFile;
const alerts = rules.groups.flatMap((g) => g.rules);
/** Metrics from outside this repository that an alert may read, and who exports them. */
const EXTERNAL_METRICS: Record<string, string> = { probe_ssl_earliest_cert_expiry: 'the Prometheus blackbox exporter' };

beforeAll(() => ensurePromtool(), 600_000);

describe('Prometheus alert rules (ops/prometheus/alerts.yaml)', () => {
  it('has the alerts operators asked for', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'EnergyPipelineCertificateExpiringSoon',
      'EnergyPipelineConsumerLagGrowing',
      'EnergyPipelineConsumerStalled',
      'EnergyPipelineDeadLettersIncreasing',
      'EnergyPipelineDedupeStateCorrupt',
      'EnergyPipelineIngestErrors',
      'EnergyPipelineRedisDown',
    ]);
  });

  it('passes promtool check rules', () => {
    const check = promtool(['check', 'rules', rulesPath]);
    expect(check.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(check.code).toBe(0);
  });

  it('passes promtool test rules: each alert fires on its series and stays quiet on the others', () => {
    const run = promtool(['test', 'rules', testsPath]);
    expect(run.output).toContain('SUCCESS');
    expect(run.code).toBe(0);
  });

  it('tests every alert both firing and not firing', () => {
    const tests = parse(readFileSync(testsPath, 'utf8')) as RuleTests;
    expect(tests.rule_files).toEqual(['alerts.yaml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${alert} never fires in the tests`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${alert} is never expected to stay quiet`).toBe(true);
    }
  });

  it('gives every alert a severity, a summary, a description and a runbook section that exists', () => {
    const anchors = markdownAnchors(readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8'));
    for (const a of alerts) {
      expect(['critical', 'warning'], a.alert).toContain(a.labels.severity);
      expect(a.annotations.summary, a.alert).toBeTruthy();
      expect(a.annotations.description, a.alert).toBeTruthy();
      const [file, anchor = ''] = (a.annotations.runbook_url ?? '').split('#');
      expect(file, a.alert).toBe('docs/operations.md');
      expect(anchor, a.alert).toBe(a.alert.toLowerCase());
      expect(anchors, a.alert).toContain(anchor);
    }
  });

  it('reads only metrics that the services export (or, for certificates, the blackbox exporter)', async () => {
    const { ingest, process } = await scrapeServices();
    const exported = new Set([...ingest, ...process, ...Object.keys(EXTERNAL_METRICS)]);
    for (const a of alerts) {
      const names = promqlMetricNames(a.expr);
      expect(names.length, a.alert).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${a.alert} reads ${name}`).toContain(name);
    }
    // The Redis alert relies on both services reporting ep_redis_up.
    expect(ingest).toContain('ep_redis_up');
    expect(process).toContain('ep_redis_up');
  });
});
