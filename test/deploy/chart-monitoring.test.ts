import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartDir, find, helm, type Manifest, render, repoRoot } from './helm.js';
import { validateManifest } from './k8s-schemas.js';
import { ensurePromtool, promtool } from '../support/promtool.js';

// biome-ignore lint/suspicious/noExplicitAny: rules files are free-form YAML
type Json = any;

const alertsFile = join(repoRoot, 'ops/prometheus/alerts.yaml');
const plain: { groups: Json[] } = parse(readFileSync(alertsFile, 'utf8'));
const dashboardFile = join(repoRoot, 'ops/grafana/energy-pipeline.json');

const ON = [
  '--set', 'metrics.alertRules.prometheusRule.enabled=true',
  '--set', 'metrics.alertRules.gmpRules.enabled=true',
  '--set', 'metrics.grafanaDashboard.enabled=true',
];
const CUSTOM = [
  ...ON,
  '--set', 'metrics.alertRules.prometheusRule.labels.release=kube-prometheus-stack',
  '--set', 'metrics.alertRules.alertLabels.team=energy',
  '--set', 'metrics.alertRules.alertLabels.severity=info',
  '--set', 'metrics.alertRules.runbookBaseUrl=https://git.example.com/energy-pipeline/blob/main/',
  '--set', 'metrics.alertRules.certificateExpiry.enabled=true',
  '--set', 'metrics.alertRules.certificateExpiry.probeSelector=job="probe/energy/ingest-tls"',
  '--set', 'metrics.grafanaDashboard.labels.grafana_dashboard=energy',
  '--set', 'metrics.grafanaDashboard.annotations.grafana_folder=Energy',
  '--set', 'metrics.grafanaDashboard.namespace=monitoring',
];

let off: Manifest[];
let on: Manifest[];
let custom: Manifest[];
let tmp: string;
beforeAll(async () => {
  ensurePromtool();
  [off, on, custom] = await Promise.all([render(), render(ON), render(CUSTOM)]);
  tmp = mkdtempSync(join(tmpdir(), 'ep-chart-rules-'));
}, 600_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const rule = (ms: Manifest[]) => find(ms, 'PrometheusRule', 'ep');
const gmp = (ms: Manifest[]) => find(ms, 'Rules', 'ep');
const dashboard = (ms: Manifest[]) => find(ms, 'ConfigMap', 'ep-grafana-dashboard');

describe('helm chart: alert rules and dashboard', () => {
  it('renders neither unless asked; the GKE values ask for Managed Prometheus rules', async () => {
    expect(off.filter((m) => /Rule/.test(m.kind) || m.metadata.name.endsWith('grafana-dashboard'))).toEqual([]);
    const gke = await render(['--values', join(chartDir, 'values-gke.yaml'), '--set', 'redis.external.host=10.0.0.3']);
    expect(gke.filter((m) => /Rule/.test(m.kind)).map((m) => m.kind)).toEqual(['Rules']);
    validateManifest(gmp(gke));
  });

  it('lints strictly and validates against the Kubernetes, prometheus-operator and GKE Rules schemas when on', async () => {
    for (const args of [ON, CUSTOM]) {
      const out = await helm(['lint', '--strict', chartDir, ...args]);
      expect(out.stderr + out.stdout).toContain('0 chart(s) failed');
      expect(out.code).toBe(0);
    }
    for (const m of [rule(on), gmp(on), dashboard(on), rule(custom), gmp(custom), dashboard(custom)]) validateManifest(m);
  });

  it('ships the rules of ops/prometheus/alerts.yaml unchanged by default, without the certificate group', () => {
    const expected = plain.groups.filter((g) => g.name !== 'energy-pipeline-tls');
    expect(rule(on)['spec'].groups).toEqual(expected);
    expect(plain.groups.map((g) => g.name)).toContain('energy-pipeline-tls');
    // Managed Prometheus's Rules: the same groups, each with the interval it requires.
    expect(gmp(on)['spec'].groups).toEqual(expected.map((g) => ({ ...g, interval: '30s' })));
  });

  it('adds alert labels (an alert keeps its own severity), absolute runbook links and the probe selector when configured', () => {
    const m = rule(custom);
    expect(m.metadata['labels'].release).toBe('kube-prometheus-stack');
    expect(gmp(custom)['spec'].groups).toEqual(m['spec'].groups.map((g: Json) => ({ ...g, interval: '30s' })));
    const rendered: Json[] = m['spec'].groups.flatMap((g: Json) => g.rules);
    const original: Json[] = plain.groups.flatMap((g) => g.rules);
    expect(rendered.map((r) => r.alert)).toEqual(original.map((r) => r.alert));
    for (const [i, r] of rendered.entries()) {
      const o = original[i];
      expect(r.labels, r.alert).toEqual({ ...o.labels, team: 'energy', severity: o.labels.severity });
      expect(r.annotations.runbook_url).toBe(`https://git.example.com/energy-pipeline/blob/main/${o.annotations.runbook_url}`);
      if (r.alert === 'EnergyPipelineCertificateExpiringSoon') {
        expect(r.expr).toBe(o.expr.replace('job="energy-pipeline-tls"', 'job="probe/energy/ingest-tls"'));
        expect(r.expr).not.toBe(o.expr);
      } else {
        expect(r.expr, r.alert).toBe(o.expr);
      }
    }
  });

  it('passes the same promtool unit tests as the plain rules file', async () => {
    const full = await render([...ON, '--set', 'metrics.alertRules.certificateExpiry.enabled=true']);
    writeFileSync(join(tmp, 'alerts.yaml'), stringify({ groups: rule(full)['spec'].groups }));
    writeFileSync(join(tmp, 'alerts.test.yaml'), readFileSync(join(repoRoot, 'ops/prometheus/alerts.test.yaml')));
    const run = promtool(['test', 'rules', join(tmp, 'alerts.test.yaml')]);
    expect(run.output).toContain('SUCCESS');
    expect(run.code).toBe(0);
  });

  it('puts ops/grafana/energy-pipeline.json in a ConfigMap labelled for the Grafana sidecar', () => {
    const cm = dashboard(on);
    expect(cm['data']['energy-pipeline.json']).toBe(readFileSync(dashboardFile, 'utf8'));
    expect(cm.metadata['labels'].grafana_dashboard).toBe('1');
    expect(cm.metadata['namespace']).toBe('energy');
    const moved = dashboard(custom);
    expect(moved.metadata['labels'].grafana_dashboard).toBe('energy');
    expect(moved.metadata['annotations']).toEqual({ grafana_folder: 'Energy' });
    expect(moved.metadata['namespace']).toBe('monitoring');
  });

  it('rejects unknown or mistyped monitoring values through values.schema.json', async () => {
    await expect(render(['--set', 'metrics.alertRules.prometheusRule.enable=true'])).rejects.toThrow(/additional properties 'enable' not allowed/);
    await expect(render(['--set', 'metrics.alertRules.gmpRules.interval=often'])).rejects.toThrow(/interval/);
    await expect(render(['--set', 'metrics.grafanaDashboard.folder=x'])).rejects.toThrow(/additional properties 'folder' not allowed/);
    await expect(render(['--set', 'metrics.alertRules.runbookBaseUrl=docs'])).rejects.toThrow(/runbookBaseUrl/);
    await expect(render(['--set', 'metrics.alertRules.certificateExpiry.probeSelector='])).rejects.toThrow(/probeSelector/);
  });
});
