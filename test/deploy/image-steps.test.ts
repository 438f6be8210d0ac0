/**
 * The container images, built and started without Docker: each Dockerfile is replayed step by
 * step (test/deploy/dockerfile.ts) into a temporary folder, and the final stage is started with
 * its own CMD against a private redis-server. The chart's liveness command and its `helm test`
 * script then run against the two services exactly as rendered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { replayDockerfile, type ReplayResult } from './dockerfile.js';
import { find, render, repoRoot } from './helm.js';

const services = [
  { service: 'ingest', deployment: 'ep-ingestion-api', port: 8000 },
  { service: 'process', deployment: 'ep-processing-service', port: 8001 },
] as const;

// The Node that runs the tests runs the images' steps too (CI does this on Node 20 and on 24).
// The machine's environment is kept (e.g. NODE_EXTRA_CA_CERTS, without which npm's registry
// requests can stall here), but not the npm_* variables of the `npm test` that started vitest.
const baseEnv: Record<string, string> = {
  ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^npm_/i.test(e[0]))),
  PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
  HOME: process.env['HOME'] ?? tmpdir(),
};

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exit: Promise<number | null>;
}

function run(command: string[], cwd: string, env: Record<string, string>): Running & { port: string } {
  const child = spawn(command[0]!, command.slice(1), { cwd, env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, url: `http://127.0.0.1:${env['PORT']}`, port: env['PORT'] ?? '', output: () => out, exit };
}

async function runToEnd(command: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const r = run(command, repoRoot, env);
  const code = await r.exit;
  return { code, output: r.output() };
}

const status = (url: string) => fetch(url).then((r) => r.status, () => 0);

describe('container images, replayed outside Docker', () => {
  let redis: TestRedis;
  let work: string;
  const images: Record<string, ReplayResult> = {};
  const running: Record<string, Running> = {};
  let liveness: Record<string, string[]>;
  let smokeScript: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    work = mkdtempSync(join(tmpdir(), 'ep-image-'));
    const manifests = await render();
    liveness = Object.fromEntries(
      services.map((s) => [s.service, find(manifests, 'Deployment', s.deployment)['spec'].template.spec.containers[0].livenessProbe.exec.command]),
    );
    smokeScript = find(manifests, 'ConfigMap', 'ep-smoke-test')['data']['smoke-test.mjs'];
    await Promise.all(
      services.map(async ({ service }) => {
        images[service] = await replayDockerfile(join(repoRoot, service, 'Dockerfile'), repoRoot, join(work, service), baseEnv);
      }),
    );
  }, 300_000);

  // Stopping Redis and deleting the two replayed image trees (node_modules included) can outlast
  // the default 30 s hook timeout on a busy machine.
  afterAll(async () => {
    for (const r of Object.values(running)) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await redis?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it.each(services)('builds $service on Node 24 into a non-root image holding compiled JavaScript and production dependencies only', ({ service, port }) => {
    const image = images[service]!;
    expect(image.from).toMatch(/^node:24-/);
    expect(image.user).toMatch(/^[1-9][0-9]*:[0-9]+$/);
    expect(image.exposed).toEqual([port]);
    expect(image.env['NODE_ENV']).toBe('production');
    expect(image.cmd).toEqual(['node', `${service}/dist/main.js`]);
    const app = join(image.root, image.workdir);
    const modules = join(app, 'node_modules');
    for (const dev of ['typescript', 'tsx', 'vitest', '@biomejs', 'esbuild', 'fast-check', '@aws-cdk']) expect(existsSync(join(modules, dev)), dev).toBe(false);
    for (const dep of ['fastify', 'ioredis', 'zod', '@energy-pipeline/contract', '@energy-pipeline/server-kit']) expect(existsSync(join(modules, dep)), dep).toBe(true);
    const sources = readdirSync(app, { recursive: true, encoding: 'utf8' }).filter(
      (f) => !f.startsWith('node_modules') && f.endsWith('.ts') && !f.endsWith('.d.ts'),
    );
    expect(sources).toEqual([]);
    if (service === 'process') {
      expect(readdirSync(join(app, 'process/lua'))).toContain('apply-entries.lua');
      // The dashboard, built: static files only, none of its build tools.
      expect(readdirSync(join(app, 'process/dashboard/dist'))).toContain('index.html');
      for (const dev of ['vite', 'preact', 'uplot', 'playwright-core']) expect(existsSync(join(modules, dev)), dev).toBe(false);
    }
  });

  it('starts both images from their CMD and reports healthy; the processor serves the dashboard at /', async () => {
    for (const { service } of services) {
      const image = images[service]!;
      // AUTH_DISABLED: the smoke test posts without an API key, as on a development cluster.
      const env = { ...image.env, PORT: String(await freePort()), REDIS_URL: redis.url, LOG_LEVEL: 'warn', AUTH_DISABLED: 'true' };
      running[service] = run(image.cmd, join(image.root, image.workdir), env);
    }
    for (const { service } of services) {
      const r = running[service]!;
      await eventually(async () => (await status(`${r.url}/health`)) === 200, 20_000).catch((err) => {
        throw new Error(`${service} never became healthy: ${err.message}\n${r.output()}`);
      });
    }
    const page = await fetch(`${running['process']!.url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="app">');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect((await fetch(`${running['process']!.url}${script}`)).status).toBe(200);
  });

  it("passes the chart's helm test: a posted reading is read back from the processor", async () => {
    const { code, output } = await runToEnd(['node', '--input-type=module', '-e', smokeScript], {
      INGEST_URL: running['ingest']!.url,
      PROCESS_URL: running['process']!.url,
      TIMEOUT_S: '20',
    });
    expect(output).toMatch(/ok: read back helm-test-\w+: 1 reading, latest 1234.5 W \(\d+-\d+\)/);
    expect(code).toBe(0);
  });

  it("keeps the chart's liveness probe passing while Redis is down, when readiness fails", async () => {
    await redis.kill();
    for (const { service } of services) {
      const r = running[service]!;
      await eventually(async () => (await status(`${r.url}/health`)) === 503, 15_000);
      const probe = await runToEnd(liveness[service]!, { PORT: r.url.split(':').pop()! });
      expect(probe.code, `${service}: ${probe.output}`).toBe(0);
    }
    await redis.restart();
    for (const { service } of services) {
      await eventually(async () => (await status(`${running[service]!.url}/health`)) === 200, 15_000);
    }
  });

  it("fails the chart's liveness probe when nothing answers", async () => {
    const probe = await runToEnd(liveness['ingest']!, { PORT: String(await freePort()) });
    expect(probe.code).toBe(1);
    expect(probe.output).toContain('not live');
  });

  it('stops on SIGTERM with exit code 0 (node is PID 1 and handles it)', async () => {
    for (const { service } of services) {
      const r = running[service]!;
      r.child.kill('SIGTERM');
      expect(await r.exit, `${service}: ${r.output()}`).toBe(0);
    }
  });
});
