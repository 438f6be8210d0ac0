/**
 * The declarations users get: built with tsdown (seconds, so not in the unit tier), then a
 * user's program compiled against them with every library checked.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const clientDir = fileURLToPath(new URL('..', import.meta.url));
const repoDir = fileURLToPath(new URL('../..', import.meta.url));

/** A user's program, compiled against the built declarations with every library checked. */
const consumer = `import { EnergyPipelineClient, type ErrorKind, isRetryable, ValidationError } from './dist/index.js';

const client = new EnergyPipelineClient({ ingestUrl: 'http://127.0.0.1:1', processUrl: 'http://127.0.0.1:1' });
export async function use(): Promise<void> {
  const page = await client.processor.listDeadLetters({ query: { limit: 10, after: '1-0' } });
  const next: string | null = page.next;
  const replayed: number = (await client.processor.replayDeadLetter({ params: { id: '1-0' } })).replayed;
  const status: 'ok' | 'unavailable' = (await client.processor.health()).status;
  // @ts-expect-error the route needs its id
  await client.processor.replayDeadLetter();
  // @ts-expect-error not a reason a dead letter can have
  await client.processor.listDeadLetters({ query: { reason: 'bored' } });
  const sent = await client.sendReadings([{ site_id: 's', device_id: 'd', power_reading: 1, timestamp: '2026-01-01T00:00:00Z' }]);
  const kind: ErrorKind = 'validation_failed';
  console.log(next, replayed, status, sent.accepted, kind, isRetryable(new ValidationError('x')));
}
`;

describe('the built declarations', () => {
  // Inside the client package, so that the declarations' own imports (zod, @trpc/*) resolve.
  mkdirSync(join(clientDir, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(clientDir, '.tmp', 'types-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('name no ts-rest type, so users compile them without skipLibCheck', async () => {
    // Built into a directory of its own: package.test.ts may be building dist/ at the same time.
    await exec(join(repoDir, 'node_modules', '.bin', 'tsdown'), ['--out-dir', join(dir, 'dist')], { cwd: clientDir });
    const declarations = readdirSync(join(dir, 'dist')).filter((f) => f.endsWith('.d.ts'));
    expect(declarations).toContain('index.d.ts');
    for (const file of declarations) {
      // ts-rest 3.53's declarations name zod 3 types, which fail to compile against zod 4.
      expect(readFileSync(join(dir, 'dist', file), 'utf8'), file).not.toMatch(/@ts-rest/);
    }
    writeFileSync(join(dir, 'example.ts'), consumer);
    const compilerOptions = { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['example.ts'] }));
    const tsc = await exec(join(repoDir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: dir }).catch(
      (err: { stdout: string }) => err,
    );
    expect(tsc.stdout.split('\n').filter((l) => / error TS\d+/.test(l))).toEqual([]);
  }, 180_000);
});
