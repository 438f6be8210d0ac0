import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { type DocBlock, docBlocks, isExample, SHELL, skipReason } from '../support/doc-examples.js';
import { ingestConfig } from '../support/ingest-app.js';
import { processApp, processConfig } from '../support/process-app.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';

/**
 * Every shell and JS/TS block of README.md and docs/*.md runs here, as a reader would paste it,
 * against both services on free ports over a private redis-server. Blocks marked `deploy` (Docker,
 * a cluster, a cloud) or `manual` (runs until stopped, or for minutes) are listed, not run.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const examples = docBlocks(root).filter(isExample);
const runnable = examples.filter((b) => skipReason(b) === null);
const deployTools = /\b(gcloud|kubectl|helm|docker|minikube)\b/;
const where = (b: DocBlock) => `${b.file}:${b.line} (${b.lang})`;

let redis: TestRedis;
let ingest: FastifyInstance;
let processor: FastifyInstance;
let env: Record<string, string>;
let workDir: string;
let ran = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  // The names the docs use (the fixtures' defaults are test_readings and test_group).
  const names = { REDIS_STREAM: 'energy_readings', CONSUMER_GROUP: 'processing_group' };
  ingest = buildIngestApp(ingestConfig(redis.url, names));
  processor = processApp(processConfig(redis.url, names));
  const ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });
  const processUrl = await processor.listen({ host: '127.0.0.1', port: 0 });
  processor.worker.start();
  // Only what a reader's shell has, plus the addresses; auth is off, as under npm start.
  env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? root,
    INGEST_URL: ingestUrl,
    PROCESS_URL: processUrl,
    ENERGY_PIPELINE_INGEST_URL: ingestUrl,
    ENERGY_PIPELINE_PROCESS_URL: processUrl,
  };
  // Inside the repository, so that npx and imports find its node_modules.
  mkdirSync(join(root, '.tmp'), { recursive: true });
  workDir = mkdtempSync(join(root, '.tmp', 'doc-examples-'));
}, 60_000);

afterAll(async () => {
  rmSync(workDir, { recursive: true, force: true });
  await Promise.all([ingest?.close(), processor?.close()]);
  await redis?.stop();
});

/** Runs one block; its output, or a thrown error naming the block. */
async function runBlock(block: DocBlock, n: number): Promise<string> {
  const options = { cwd: workDir, env, timeout: 45_000 };
  if (SHELL.includes(block.lang)) {
    const { stdout, stderr } = await run('bash', ['-e', '-o', 'pipefail', '-c', block.code], options);
    // curl prints error bodies and exits 0: an error answer fails the block all the same.
    if (/"error"\s*:/.test(stdout)) throw new Error(`an error answer:\n${stdout}\n${stderr}`);
    return stdout;
  }
  // As docs/sdk.md says to run a program in the repository.
  const file = join(workDir, `example-${n}.${block.lang.startsWith('t') ? 'mts' : 'mjs'}`);
  writeFileSync(file, block.code);
  const { stdout } = await run('npx', ['tsx', '--conditions=@energy-pipeline/source', file], options);
  return stdout;
}

describe('the examples in README.md and docs/', () => {
  it('are each run here, or marked deploy or manual; deploy blocks are the ones needing a deploy tool', () => {
    const summary = examples.map((b) => `${skipReason(b) ?? 'run'}\t${where(b)}`).join('\n');
    console.log(`${runnable.length} of ${examples.length} examples run:\n${summary}`);
    expect(runnable.length).toBeGreaterThanOrEqual(7);
    expect(examples.filter((b) => skipReason(b) === 'deploy').length).toBeGreaterThanOrEqual(8);
    for (const b of examples) {
      if (skipReason(b) === 'deploy') expect(b.code, where(b)).toMatch(deployTools);
      if (skipReason(b) === null) expect(b.code, where(b)).not.toMatch(deployTools);
    }
  });

  it('use the current time, never a fixed date', () => {
    for (const b of examples) expect(b.code, where(b)).not.toMatch(/\b20\d\d-\d\d-\d\d(T|\b)/);
  });

  it('reach the services through INGEST_URL and PROCESS_URL, localhost being the fallback', () => {
    for (const b of runnable) {
      for (const m of b.code.matchAll(/localhost:\d+/g)) {
        expect(b.code.slice(Math.max(0, m.index - 40), m.index), `${where(b)}: ${m[0]}`).toMatch(/(:-|\?\? ')(https?:\/\/)?$/);
      }
    }
  });

  runnable.forEach((block, n) => {
    it(`runs ${where(block)}`, { timeout: 150_000 }, async () => {
      // Three tries: a read-back may come before the processor applied the reading it follows.
      let last: unknown;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await runBlock(block, n);
          ran++;
          return;
        } catch (err) {
          last = err;
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
      throw new Error(`${where(block)} failed:\n${block.code}\n${(last as Error).message}`);
    });
  });

  it('ran every example not marked deploy or manual', () => {
    expect(ran).toBe(runnable.length);
  });
});

describe('npx energy-pipeline in the repository', () => {
  it('is the SDK package’s command, linked by npm ci, and prints its help', { timeout: 60_000 }, async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    expect(pkg.devDependencies['@energy-pipeline/client']).toBeDefined();
    const { stdout } = await run('npx', ['energy-pipeline', '--help'], { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? root } });
    expect(stdout).toContain('Usage: energy-pipeline');
    expect(stdout).toContain('Exit codes:');
  });
});
