/**
 * Type tests: `npm run typecheck` compiles this file, so each `@ts-expect-error` fails the build
 * if the wrong shape it marks ever compiles; vitest runs the `expectTypeOf` checks as well. The
 * last block builds the declarations users get and compiles a small program against them.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type BufferStats,
  EnergyPipelineClient,
  EnergyPipelineError,
  type ErrorKind,
  type HttpError,
  type ReadingInput,
  type ReadingResult,
  type SendReadingResult,
  ValidationError,
} from '../src/index.js';

const client = new EnergyPipelineClient({ ingestUrl: 'http://127.0.0.1:1', processUrl: 'http://127.0.0.1:1', retry: { maxAttempts: 1 } });
const ok = { site_id: 's', device_id: 'd', power_reading: 1, timestamp: '2026-01-15T10:00:00Z' };

/** Calls are made only inside never-run closures: these tests are about what compiles. */
const neverRun = (_fn: () => unknown) => {};

describe('SDK types', () => {
  it('types a reading strictly', () => {
    expectTypeOf(ok).toMatchTypeOf<ReadingInput>();
    expectTypeOf<ReadingInput['reading_id']>().toEqualTypeOf<string | undefined>();
    neverRun(() => {
      // @ts-expect-error power_reading is a number of watts, not a string
      client.sendReading({ ...ok, power_reading: '1500' });
      // @ts-expect-error device_id is required
      client.sendReading({ site_id: 's', power_reading: 1, timestamp: ok.timestamp });
      // @ts-expect-error unknown fields are refused, as by the server
      client.sendReading({ ...ok, power_readng: 1 });
      // @ts-expect-error every item of a batch is a reading
      client.sendReadings([ok, { site_id: 's' }]);
      // @ts-expect-error the buffer takes readings too
      client.buffer().add({ ...ok, timestamp: new Date() });
    });
    expect(true).toBe(true);
  });

  it('types results', () => {
    expectTypeOf(client.sendReading).returns.resolves.toEqualTypeOf<SendReadingResult>();
    expectTypeOf<ReadingResult>().toHaveProperty('reading_id').toEqualTypeOf<string>();
    const narrow = (r: ReadingResult) => {
      if (r.status === 'accepted') expectTypeOf(r.stream_id).toEqualTypeOf<string | null>();
      // @ts-expect-error only accepted results carry a stream id
      else void r.stream_id;
    };
    expectTypeOf(narrow).toBeFunction();
    expectTypeOf<BufferStats['dropped']>().toEqualTypeOf<number>();
  });

  it('derives processor and ingest routes from the contracts', () => {
    expectTypeOf(client.processor.metrics).returns.resolves.toHaveProperty('applied').toHaveProperty('total').toEqualTypeOf<number>();
    // A health route's 503 describes the service, so it is an answer, not an error.
    expectTypeOf(client.processor.health).returns.resolves.toHaveProperty('status').toEqualTypeOf<'ok' | 'unavailable'>();
    expectTypeOf(client.health).returns.resolves.toHaveProperty('redis').toEqualTypeOf<'up' | 'down'>();
    neverRun(() => {
      // @ts-expect-error there is no such processor route
      client.processor.launch();
      // @ts-expect-error the contract's body is checked here too
      client.ingest.postReading({ body: { ...ok, power_reading: 'x' } });
      // @ts-expect-error error bodies are thrown, never resolved
      client.processor.metrics().then((m) => m.error);
    });
    expect(typeof client.processor.metrics).toBe('function');
  });

  it('types errors by kind', () => {
    expectTypeOf<EnergyPipelineError['kind']>().toEqualTypeOf<ErrorKind>();
    expectTypeOf(new ValidationError('x').kind).toEqualTypeOf<'validation_failed'>();
    // The contract's codes, one spelling each: the SDK has none of its own for what the server says.
    expectTypeOf<'validation_failed' | 'unauthorized' | 'forbidden' | 'not_found' | 'network' | 'timeout'>().toMatchTypeOf<ErrorKind>();
    expectTypeOf<HttpError['kind']>().toMatchTypeOf<ErrorKind>();
    neverRun(() => {
      // @ts-expect-error the old spellings are gone
      const old: ErrorKind = 'validation';
      // @ts-expect-error dead-letter reasons are never an error's kind
      const reason: ErrorKind = 'max_deliveries';
      return [old, reason];
    });
    const handle = (err: unknown) => {
      if (err instanceof ValidationError) expectTypeOf(err.issues[0]!.path).toEqualTypeOf<string>();
    };
    expectTypeOf(handle).toBeFunction();
    expect(new ValidationError('x')).toBeInstanceOf(EnergyPipelineError);
  });

  it('refuses wrong options', () => {
    neverRun(() => {
      // @ts-expect-error ingestUrl is required
      new EnergyPipelineClient({ apiKey: 'k' });
      // @ts-expect-error retry options are numbers
      new EnergyPipelineClient({ ingestUrl: 'x', retry: { maxAttempts: '3' } });
      // @ts-expect-error the overflow policy is one of two
      client.buffer({ overflow: 'drop-newest' });
    });
    expect(client.batchSize).toBe(1000);
  });
});

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
