import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../deploy/helm.js';
import { type GrafanaSchemas, grafanaSchemas } from '../support/grafana-schema.js';
import { promqlMetricNames, scrapeServices } from '../support/metric-names.js';
import { ensurePromtool, promtool } from '../support/promtool.js';

// biome-ignore lint/suspicious/noExplicitAny: a dashboard is free-form JSON, checked by the schema
type Json = any;
interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource: { type: string; uid: string };
}

const dashboard: Json = JSON.parse(readFileSync(join(repoRoot, 'ops/grafana/energy-pipeline.json'), 'utf8'));
const panels: Json[] = dashboard.panels.filter((p: Json) => p.type !== 'row');
const targets: (Target & { panel: string })[] = panels.flatMap((p) => p.targets.map((t: Target) => ({ ...t, panel: p.title })));
const panel = (title: string) => {
  const p = panels.find((x) => x.title === title);
  if (!p) throw new Error(`no panel ${title}`);
  return p;
};
/** What Grafana sends Prometheus: variables replaced (All namespaces, a 5-minute rate window). */
const resolved = (expr: string) => expr.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', '.*');
const exprsOf = (title: string) => (panel(title).targets as Target[]).map((t) => resolved(t.expr));

let schemas: GrafanaSchemas;
let tmp: string;
beforeAll(() => {
  ensurePromtool();
  schemas = grafanaSchemas([...new Set(panels.map((p) => p.type as string))]);
  tmp = mkdtempSync(join(tmpdir(), 'ep-dashboard-'));
}, 600_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Grafana dashboard (ops/grafana/energy-pipeline.json)', () => {
  it("validates against Grafana's dashboard schema and each panel plugin's options schema", () => {
    expect(schemas.dashboard(dashboard), JSON.stringify(schemas.dashboard.errors)).toBe(true);
    for (const p of panels) {
      const plugin = schemas.panels[p.type]!;
      expect(plugin.options(p.options), `${p.title}: ${JSON.stringify(plugin.options.errors)}`).toBe(true);
      expect(plugin.fieldConfig(p.fieldConfig.defaults.custom ?? {}), `${p.title}: ${JSON.stringify(plugin.fieldConfig.errors)}`).toBe(true);
    }
  });

  it('is rejected by the same schemas when a key is misspelt or a value has the wrong type', () => {
    const bad = structuredClone(dashboard);
    bad.refresh_rate = '30s';
    expect(schemas.dashboard(bad)).toBe(false);
    const wrongType = structuredClone(dashboard);
    wrongType.panels[1].gridPos.w = 'wide';
    expect(schemas.dashboard(wrongType)).toBe(false);
    const ts = panels.find((p) => p.type === 'timeseries');
    expect(schemas.panels['timeseries']!.options({ ...ts.options, legend: { ...ts.options.legend, placement: 'middle' } })).toBe(false);
  });

  it('picks its datasource through a variable: no datasource is hard-coded', () => {
    const variable = dashboard.templating.list.find((v: Json) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const refs: Json[] = [];
    const walk = (node: Json) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        if (node.datasource) refs.push(node.datasource);
        Object.values(node).forEach(walk);
      }
    };
    walk(dashboard.panels);
    walk(dashboard.templating.list);
    expect(refs.length).toBeGreaterThan(targets.length);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
    for (const ref of refs) expect(ref).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  it('has unique panel ids, and panels that do not overlap on the 24-column grid', () => {
    const all: Json[] = dashboard.panels;
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    for (const [i, a] of all.entries()) {
      expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
      for (const b of all.slice(i + 1)) {
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    }
  });

  it('queries only metrics that the running services export', async () => {
    const { ingest, process } = await scrapeServices();
    const exported = new Set([...ingest, ...process]);
    const used = new Set<string>();
    for (const t of targets) {
      const names = promqlMetricNames(resolved(t.expr));
      expect(names.length, `${t.panel} ${t.refId}`).toBeGreaterThan(0);
      for (const name of names) {
        expect(exported, `${t.panel} ${t.refId} reads ${name}`).toContain(name);
        used.add(name);
      }
    }
    // Variables: label_values(<metric>, <label>).
    for (const v of dashboard.templating.list.filter((x: Json) => x.type === 'query')) {
      const [, metric = ''] = /^label_values\((\w+),\s*\w+\)$/.exec(v.query) ?? [];
      expect(exported, `variable ${v.name} reads ${metric || v.query}`).toContain(metric);
    }
    // What operators asked to see.
    for (const name of [
      'ep_ingest_readings_accepted_total', 'ep_ingest_readings_rejected_total', 'http_request_duration_seconds_bucket',
      'ep_consumer_group_lag', 'ep_ingest_backlog', 'ep_group_readings_applied_total', 'ep_dead_letters',
      'ep_group_entries_dead_lettered_total', 'redis_command_duration_seconds_bucket', 'ep_redis_up',
      'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'ep_consumer_last_progress_timestamp_seconds',
    ]) {
      expect(used, name).toContain(name);
    }
  });

  it('counts group-wide figures once per shard, with or without a shard label, however many processors report them (promtool)', () => {
    const [lag, pending, backlog, limit] = exprsOf('Backlog and lag by shard');
    const [applied] = exprsOf('Apply rate');
    const [totalLag] = exprsOf('Consumer group lag');
    const series = (name: string, labels: string, values: string) => ({ series: `${name}{${labels}}`, values });
    const tests = {
      rule_files: [],
      evaluation_interval: '1m',
      tests: [
        {
          name: 'two shards, each reported by two processor replicas',
          interval: '1m',
          input_series: [
            ...['p1', 'p2'].flatMap((i) => [
              series('ep_consumer_group_lag', `job="process", shard="0", instance="${i}"`, '100x10'),
              series('ep_consumer_group_lag', `job="process", shard="1", instance="${i}"`, '30x10'),
              series('ep_consumer_group_pending', `job="process", shard="0", instance="${i}"`, '4x10'),
              series('ep_group_readings_applied_total', `job="process", shard="0", instance="${i}"`, '0+600x10'),
            ]),
            series('ep_ingest_backlog', 'job="ingest", shard="0", instance="i1"', '104x10'),
            series('ep_ingest_backlog_limit', 'job="ingest", instance="i1"', '100000x10'),
            series('ep_ingest_backlog_limit', 'job="ingest", instance="i2"', '100000x10'),
          ],
          promql_expr_test: [
            { expr: lag, eval_time: '10m', exp_samples: [{ labels: '{shard="0"}', value: 100 }, { labels: '{shard="1"}', value: 30 }] },
            { expr: pending, eval_time: '10m', exp_samples: [{ labels: '{shard="0"}', value: 4 }] },
            { expr: backlog, eval_time: '10m', exp_samples: [{ labels: '{shard="0"}', value: 104 }] },
            { expr: limit, eval_time: '10m', exp_samples: [{ labels: '{}', value: 100000 }] },
            { expr: applied, eval_time: '10m', exp_samples: [{ labels: '{shard="0"}', value: 10 }] },
            { expr: totalLag, eval_time: '10m', exp_samples: [{ labels: '{}', value: 130 }] },
          ],
        },
        {
          name: 'one stream, no shard label, two replicas; no backlog limit',
          interval: '1m',
          input_series: [
            ...['p1', 'p2'].map((i) => series('ep_consumer_group_lag', `job="process", instance="${i}"`, '100x10')),
            series('ep_ingest_backlog_limit', 'job="ingest", instance="i1"', '0x10'),
          ],
          promql_expr_test: [
            { expr: lag, eval_time: '10m', exp_samples: [{ labels: '{}', value: 100 }] },
            { expr: totalLag, eval_time: '10m', exp_samples: [{ labels: '{}', value: 100 }] },
            // MAX_BACKLOG=0 means no limit: no line at 0.
            { expr: limit, eval_time: '10m', exp_samples: [] },
          ],
        },
      ],
    };
    const file = join(tmp, 'dashboard.test.yaml');
    writeFileSync(file, stringify(tests));
    const run = promtool(['test', 'rules', file]);
    expect(run.output).toContain('SUCCESS');
    expect(run.code).toBe(0);
  });
});
