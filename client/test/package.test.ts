/**
 * The package as users get it: built, linted for publishing, packed, installed into a fresh
 * project from the tarball (dependencies from the registry), and used there with plain node.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeExample, type Stack, startStack, streamReadingIds } from './helpers.js';

const exec = promisify(execFile);
const clientDir = fileURLToPath(new URL('..', import.meta.url));
const repoDir = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name: string) => join(repoDir, 'node_modules', '.bin', name);
const run = (file: string, args: string[], cwd: string, env: Record<string, string> = {}) =>
  exec(file, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });

let stack: Stack;
let work: string;
let tarball: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ep-pack-'));
  const [started] = await Promise.all([startStack(), run(bin('tsdown'), [], clientDir)]);
  stack = started;
  // Built just above; packing must not build again.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], clientDir);
  tarball = join(work, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
}, 120_000);
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await stack?.stop();
});

/** Relative imports of a built file and, recursively, of the chunks it imports. */
function importsOf(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const specifiers = [...readFileSync(join(clientDir, 'dist', file), 'utf8').matchAll(/\bfrom\s*"([^"]+)"/g)].map((m) => m[1]!);
  return specifiers.flatMap((s) => (s.startsWith('./') ? importsOf(s.slice(2), seen) : [s]));
}

describe('the published package', () => {
  it('passes publint and are-the-types-wrong (esm-only)', async () => {
    const publint = await run(bin('publint'), ['--strict', '--pack', 'false'], clientDir);
    expect(publint.stdout).toContain('All good');
    // Exits non-zero on any problem the esm-only profile does not ignore (CommonJS and node10).
    const attw = await run(bin('attw'), [tarball, '--profile', 'esm-only'], clientDir);
    expect(attw.stdout).toContain('"@energy-pipeline/client/node"');
    expect(attw.stdout).not.toMatch(/❌|🐛|🥴|❗️/u);
  }, 60_000);

  it('keeps node-only modules, the private contract and all server code out of the main entry', () => {
    const external = new Set(importsOf('index.js'));
    expect([...external].sort()).toEqual(['@trpc/client', '@ts-rest/core', 'eventsource', 'zod']);
    const manifest = JSON.parse(readFileSync(join(clientDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    // commander is the CLI's alone: the SDK entries never import it. @trpc/server is there for
    // the router's types (and as @trpc/client's peer), never imported by our JavaScript.
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@trpc/client', '@trpc/server', '@ts-rest/core', 'commander', 'eventsource', 'zod']);
    // Only the live router's type came from the processor: none of its code, nor its server stack.
    const built = readdirSync(join(clientDir, 'dist')).filter((f) => f.endsWith('.js'));
    for (const file of built) {
      const code = readFileSync(join(clientDir, 'dist', file), 'utf8');
      expect(code, file).not.toMatch(/from\s*"(@trpc\/server[^"]*|fastify|ioredis|@fastify\/[^"]+)"/);
      expect(code, file).not.toMatch(/XREAD|initTRPC|createLiveRouter/);
    }
    const types = readFileSync(join(clientDir, 'dist', 'index.d.ts'), 'utf8');
    expect(types).toMatch(/LiveRouter/);
    expect(types).not.toMatch(/from\s*"(fastify|ioredis|@energy-pipeline\/[^"]+)"/);
    expect(importsOf('node.js')).not.toContain('commander');
    expect(new Set(importsOf('node.js'))).toContain('node:fs');
  });

  it('installs from the tarball into a fresh project and runs the docs/sdk.md example with plain node', async () => {
    const project = join(work, 'device');
    await run('mkdir', ['-p', project], work);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'device', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], project);
    expect(readdirSync(join(project, 'node_modules'))).not.toContain('@energy-pipeline/contract');
    expect(existsSync(join(project, 'node_modules', '@energy-pipeline', 'contract'))).toBe(false);

    writeFileSync(join(project, 'example.mjs'), readmeExample());
    const before = (await streamReadingIds(stack)).length;
    const { stdout } = await run(process.execPath, ['example.mjs'], project, { INGEST_URL: stack.ingestUrl });
    expect(stdout).toMatch(/stored \S+ as \d+-\d+/);
    expect(stdout).toContain('buffer: 3 sent, 0 left in the spool');
    expect((await streamReadingIds(stack)).length - before).toBe(4);

    // The same example type-checks against the declarations in the tarball, lib checks included.
    writeFileSync(join(project, 'example.ts'), readmeExample());
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(repoDir, 'node_modules', '@types')],
        },
        files: ['example.ts'],
      }),
    );
    const tsc = await run(bin('tsc'), ['-p', 'tsconfig.json'], project).catch((err: { stdout: string }) => err);
    // Our declarations name no ts-rest type (whose own declarations fail against zod 4), so
    // nothing may have an error: users need no skipLibCheck.
    const errors = tsc.stdout.split('\n').filter((l) => / error TS\d+/.test(l));
    expect(errors).toEqual([]);

    const cli = join(project, 'node_modules', '.bin', 'energy-pipeline');
    expect((await run(cli, ['--help'], project)).stdout).toContain('simulate');
    const { version } = JSON.parse(readFileSync(join(clientDir, 'package.json'), 'utf8')) as { version: string };
    expect((await run(cli, ['--version'], project)).stdout).toBe(`${version}\n`);
    const sent = await run(cli, ['send', '--site', 'site-7', '--device', 'm-1', '--power', '42', '--json'], project, {
      ENERGY_PIPELINE_INGEST_URL: stack.ingestUrl,
    });
    expect(JSON.parse(sent.stdout)).toMatchObject({ stream_id: expect.stringMatching(/^\d+-\d+$/) });
  }, 180_000);
});
