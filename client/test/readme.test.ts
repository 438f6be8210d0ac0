import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeExample, type Stack, startStack, streamReadingIds } from './helpers.js';

const run = promisify(execFile);
const clientDir = fileURLToPath(new URL('..', import.meta.url));
const repoDir = fileURLToPath(new URL('../..', import.meta.url));

let stack: Stack;
let dir: string;
beforeAll(async () => {
  stack = await startStack();
  // Inside the client package, so that `@energy-pipeline/client` resolves to itself (its sources).
  mkdirSync(join(clientDir, '.tmp'), { recursive: true });
  dir = mkdtempSync(join(clientDir, '.tmp', 'readme-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await stack.stop();
});

describe("docs/sdk.md's Node device example", () => {
  it('compiles under the repo settings (strict TypeScript)', async () => {
    writeFileSync(join(dir, 'example.ts'), readmeExample());
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: join(repoDir, 'tsconfig.base.json'), compilerOptions: { noEmit: true }, files: ['example.ts'] }),
    );
    const tsc = join(repoDir, 'node_modules', '.bin', 'tsc');
    await expect(run(tsc, ['-p', join(dir, 'tsconfig.json')], { cwd: dir })).resolves.toBeDefined();
  });

  it('runs against the real servers: one reading sent, three buffered, spooled and sent', async () => {
    writeFileSync(join(dir, 'example.ts'), readmeExample());
    const before = (await streamReadingIds(stack)).length;
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--conditions=@energy-pipeline/source', join(dir, 'example.ts')],
      { cwd: dir, env: { PATH: process.env.PATH ?? '', INGEST_URL: stack.ingestUrl } },
    );
    const stored = /stored (\S+) as (\d+-\d+)/.exec(stdout);
    expect(stored, stdout).not.toBeNull();
    expect(stdout).toContain('buffer: 3 sent, 0 left in the spool');
    const ids = (await streamReadingIds(stack)).slice(before);
    expect(ids).toHaveLength(4);
    expect(ids[0]).toBe(stored![1]);
  });
});
