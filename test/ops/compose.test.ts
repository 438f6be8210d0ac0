import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadIngestConfig } from '@energy-pipeline/ingest';
import { loadProcessConfig } from '@energy-pipeline/process';
import { find, type Manifest, render, repoRoot } from '../deploy/helm.js';
import { grafanaSchemaVersion } from '../support/grafana-schema.js';
import { markdownAnchors } from '../support/markdown.js';
import { ensurePromtool, promtool } from '../support/promtool.js';

// biome-ignore lint/suspicious/noExplicitAny: a Compose file is free-form YAML
type Service = Record<string, any>;
type Env = Record<string, string>;

const text = readFileSync(join(repoRoot, 'compose.yaml'), 'utf8');

/**
 * Compose's interpolation, the forms this file uses: ${VAR}, ${VAR:-default}, ${VAR-default}
 * and $$. Anything else throws, so that a new form gets a test rather than a wrong guess.
 */
function interpolate(value: unknown, env: Env): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$[^$]?/g, (match, name, op, fallback) => {
      if (match === '$$') return '$';
      if (!name) throw new Error(`interpolation this test does not know: ${match} in ${value}`);
      const set = env[name];
      if (op === ':-') return set ? set : fallback;
      if (op === '-') return set ?? fallback;
      return set ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  return value;
}

/** compose.yaml as `docker compose config` would see it with `env` in the shell (merge keys resolved). */
const composeFile = (env: Env = {}) => interpolate(parse(text, { merge: true }), env) as { services: Record<string, Service> };
const compose = composeFile();
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`compose.yaml has no service ${name}`);
  return s;
};
const environment = (s: Service): Env => Object.fromEntries(Object.entries(s['environment'] ?? {}).map(([k, v]) => [k, String(v ?? '')]));

/** The env a chart Deployment gives its container, with "<secret:name/key>" for secrets and a pod name for fieldRefs. */
const chartEnv = (m: Manifest): Env =>
  Object.fromEntries(
    (m['spec'].template.spec.containers[0].env as { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]).map((e) => {
      const ref = e.valueFrom?.secretKeyRef;
      return [e.name, e.value ?? (ref ? `<secret:${ref.name}/${ref.key}>` : 'pod-name-0')];
    }),
  );

/** Config fields that differ between the two on purpose: where Redis is, a replica's name, keys. */
function comparable<T extends { redis: { url: string } }>(config: T) {
  const copy = structuredClone(config) as T & { consumer?: { name?: string }; auth?: unknown };
  copy.redis.url = '<differs>';
  if (copy.consumer) copy.consumer.name = '<differs>';
  return copy;
}

const SERVICES = {
  ingest: { chart: 'ep-ingestion-api', load: loadIngestConfig },
  process: { chart: 'ep-processing-service', load: loadProcessConfig },
} as const;

let chartDefault: Manifest[];
let chartAuthOff: Manifest[];
beforeAll(async () => {
  ensurePromtool();
  [chartDefault, chartAuthOff] = await Promise.all([render(), render(['--set', 'auth.disabled=true'])]);
}, 600_000);

describe('compose.yaml', () => {
  it('validates against the Compose specification (compose-go schema), which rejects a misspelt key', () => {
    const schema = JSON.parse(readFileSync(join(repoRoot, 'test/support/compose-spec/compose-spec.json'), 'utf8'));
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(parse(text, { merge: true })), 'before interpolation').toBe(true);
    const typo = structuredClone(compose);
    typo.services['valkey']!['healthcheck'].interval_s = '5s';
    expect(validate(typo)).toBe(false);
  });

  it('runs Valkey append-only, fsynced on every write, never evicting, with a maxmemory below its memory limit', () => {
    const valkey = service('valkey');
    expect(valkey['image']).toMatch(/^valkey\/valkey:/);
    const args: string[] = valkey['command'];
    const arg = (flag: string) => args[args.indexOf(flag) + 1];
    expect(args[0]).toBe('valkey-server');
    expect(arg('--appendonly')).toBe('yes');
    expect(arg('--appendfsync')).toBe('always');
    expect(arg('--maxmemory-policy')).toBe('noeviction');
    const mb = (s: string) => Number(/^(\d+)m(b)?$/i.exec(s)?.[1]);
    expect(mb(arg('--maxmemory')!)).toBeGreaterThan(0);
    expect(mb(arg('--maxmemory')!)).toBeLessThanOrEqual(mb(valkey['mem_limit']) * 0.8);
    expect(valkey['volumes']).toContain('valkey-data:/data');
  });

  it('builds ingest and the processor from their Dockerfiles, once Valkey is healthy', () => {
    for (const [name, dockerfile] of [['ingest', 'ingest/Dockerfile'], ['process', 'process/Dockerfile']]) {
      expect(service(name!)['build'], name).toEqual({ context: '.', dockerfile });
      expect(service(name!)['depends_on'], name).toEqual({ valkey: { condition: 'service_healthy' } });
    }
  });

  it('gives each service variables the chart gives it, parsed by the service into the same configuration', () => {
    for (const [name, { chart, load }] of Object.entries(SERVICES)) {
      const env = environment(service(name));
      const chartNames = new Set(
        [chartDefault, chartAuthOff].flatMap((ms) => Object.keys(chartEnv(find(ms, 'Deployment', chart)))),
      );
      for (const v of Object.keys(env)) expect(chartNames, `${name}: ${v} is not a variable the chart sets`).toContain(v);
      // Same meaning: with auth off in both, every setting but Redis's address and the replica's name agrees.
      const fromCompose = load(env);
      const fromChart = load(chartEnv(find(chartAuthOff, 'Deployment', chart)));
      expect(comparable(fromCompose), name).toEqual(comparable(fromChart));
      const redis = new URL(fromCompose.redis.url);
      expect([redis.hostname, redis.port || '6379'], name).toEqual(['valkey', '6379']);
      // The container listens where the chart's does, and where the port mapping and healthcheck point.
      const port = String(fromCompose.port);
      expect(service(name)['ports'], name).toEqual([`127.0.0.1:${port}:${port}`]);
      expect(service(name)['healthcheck'].test.join(' '), name).toContain(`http://127.0.0.1:${port}/health`);
    }
  });

  it('runs both services with auth off unless told otherwise, and with the documented key when AUTH_DISABLED=false', () => {
    for (const [name, { load }] of Object.entries(SERVICES)) {
      expect(load(environment(service(name))).auth.disabled, name).toBe(true);
    }
    // As docs/operations.md shows: the token's SHA-256 with the scopes write and admin.
    const hash = createHash('sha256').update('a-token-for-compose').digest('hex');
    const on = composeFile({ AUTH_DISABLED: 'false', API_KEYS: `${hash}@write,admin` });
    for (const [name, { load }] of Object.entries(SERVICES)) {
      const auth = load(environment(on.services[name]!)).auth;
      expect(auth.disabled, name).toBe(false);
      expect(auth.keys.map((k) => [k.hash.toString('hex'), [...k.scopes].sort()]), name).toEqual([[hash, ['admin', 'write']]]);
      // Forgetting the key with auth on stops the service rather than leaving it open.
      expect(() => load(environment(composeFile({ AUTH_DISABLED: 'false' }).services[name]!)), name).toThrow(/API_KEYS/);
    }
  });

  it('publishes ports on 127.0.0.1 only, since auth is off by default', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const p of (s['ports'] ?? []) as string[]) expect(p, name).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('has Prometheus scrape both services where they listen and load the alert rules', () => {
    const prometheus = service('prometheus');
    const mounts = new Map(
      (prometheus['volumes'] as string[]).filter((v) => v.startsWith('./')).map((v) => [v.split(':')[1]!, v.split(':')[0]!]),
    );
    const configPath = (prometheus['command'] as string[]).find((a) => a.startsWith('--config.file='))!.split('=')[1]!;
    expect(mounts.get(configPath)).toBe('./ops/prometheus/prometheus.yml');
    const config = parse(readFileSync(join(repoRoot, 'ops/prometheus/prometheus.yml'), 'utf8'));
    // Rule files resolve against the config file's folder, in the container as in the repository.
    for (const rules of config.rule_files as string[]) {
      const local = mounts.get(posix.join(posix.dirname(configPath), rules));
      expect(local, rules).toBe(`./${join('ops/prometheus', rules)}`);
    }
    expect(config.rule_files).toEqual(['alerts.yaml']);
    const check = promtool(['check', 'config', join(repoRoot, 'ops/prometheus/prometheus.yml')]);
    const ruleCount = (parse(readFileSync(join(repoRoot, 'ops/prometheus/alerts.yaml'), 'utf8')) as { groups: { rules: unknown[] }[] }).groups.flatMap((g) => g.rules).length;
    expect(check.output).toContain(`SUCCESS: ${ruleCount} rules found`);
    expect(check.code).toBe(0);
    for (const name of Object.keys(SERVICES)) {
      const job = (config.scrape_configs as { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[]).find((j) => j.job_name === name);
      expect(job?.dns_sd_configs, name).toEqual([{ names: [name], type: 'A', port: Number(environment(service(name))['PORT']) }]);
    }
  });

  it('provisions Grafana with the Prometheus datasource and the dashboard, on the Grafana the dashboard is validated for', () => {
    const grafana = service('grafana');
    expect(grafana['image']).toBe(`grafana/grafana:${grafanaSchemaVersion}`);
    const mounts = new Map((grafana['volumes'] as string[]).filter((v) => v.startsWith('./')).map((v) => [v.split(':')[0]!, v.split(':')[1]!]));
    const datasources = parse(readFileSync(join(repoRoot, 'ops/grafana/provisioning/datasources/prometheus.yaml'), 'utf8'));
    expect(mounts.get('./ops/grafana/provisioning/datasources')).toBe('/etc/grafana/provisioning/datasources');
    expect(datasources.datasources).toHaveLength(1);
    expect(datasources.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true });
    expect(service('prometheus')['ports']).toEqual(['127.0.0.1:9090:9090']);
    const providers = parse(readFileSync(join(repoRoot, 'ops/grafana/provisioning/dashboards/energy-pipeline.yaml'), 'utf8'));
    expect(mounts.get('./ops/grafana/provisioning/dashboards')).toBe('/etc/grafana/provisioning/dashboards');
    const dashboard = mounts.get('./ops/grafana/energy-pipeline.json');
    expect(dashboard).toBeDefined();
    expect(providers.providers[0].options.path).toBe(dirname(dashboard!));
    expect(environment(grafana)['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH']).toBe(dashboard);
  });

  it('is documented in docs/operations.md, every service with its address, and the README points there', () => {
    const doc = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');
    expect(markdownAnchors(doc)).toContain('docker-compose');
    const section = doc.split('\n## Docker Compose\n')[1] ?? '';
    for (const [name, s] of Object.entries(compose.services)) {
      expect(section, name).toContain(`| \`${name}\` |`);
      for (const p of (s['ports'] ?? []) as string[]) expect(section, name).toContain(`http://localhost:${p.split(':')[1]}`);
    }
    expect(readFileSync(join(repoRoot, 'README.md'), 'utf8')).toContain('](docs/operations.md#docker-compose)');
  });
});
