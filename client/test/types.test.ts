/**
 * Type tests: `npm run typecheck` compiles this file, so each `@ts-expect-error` fails the build
 * if the wrong shape it marks ever compiles; vitest runs the `expectTypeOf` checks as well.
 * declarations.test.ts builds the declarations users get and compiles a program against them.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type BufferStats,
  EnergyPipelineClient,
  EnergyPipelineError,
  type ErrorKind,
  type HttpError,
  type ReadingInput,
  type ReadingResult,
  type SendReadingResult,
  type SendReadingsResult,
  type StoredBefore,
  type UnconfirmedReading,
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
    // A resend after a lost answer that is too old to check: a status of its own, counted apart.
    expectTypeOf<ReadingResult['status']>().toEqualTypeOf<'accepted' | 'rejected' | 'unconfirmed'>();
    expectTypeOf<UnconfirmedReading['stored_before']>().toEqualTypeOf<'unknown'>();
    expectTypeOf<SendReadingsResult['unconfirmed']>().toEqualTypeOf<number>();
    expectTypeOf<BufferStats['unconfirmed']>().toEqualTypeOf<number>();
    const refusal = (r: ReadingResult) => {
      if (r.status === 'rejected') expectTypeOf(r.stored_before).toEqualTypeOf<StoredBefore | undefined>();
      // Code written before the new status still reads every result that is not accepted.
      if (r.status !== 'accepted') expectTypeOf(r.error).toBeString();
    };
    expectTypeOf(refusal).toBeFunction();
    expectTypeOf<EnergyPipelineError['storedBefore']>().toEqualTypeOf<'unknown' | undefined>();
    expectTypeOf<EnergyPipelineError['unconfirmed']>().toEqualTypeOf<boolean>();
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
