import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../src/cli/io.js';
import { main } from '../src/cli/main.js';
import { buildFleet, householdMeter, seededRandom, solarInverter } from '../src/cli/profiles.js';
import { percentile, summarizeLatencies } from '../src/cli/stats.js';
import type { SimulationSummary } from '../src/cli/simulate.js';
import { eventually } from '../../scripts/lib/redis-server.js';
import { storedReadings } from '../../test/support/stream.js';
import { acceptAll, type FakeServer, type Stack, startFakeServer, startStack, streamReadingIds } from './helpers.js';

const exec = promisify(execFile);
const repoDir = fileURLToPath(new URL('../..', import.meta.url));

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

interface CliRun {
  tty?: boolean;
  env?: Record<string, string>;
  /** Called with the Ctrl-C handler the command registers. */
  interrupt?: (press: () => void) => void;
}

async function cli(args: string[], { tty = false, env, interrupt }: CliRun = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTTY: tty,
    env: env ?? { ENERGY_PIPELINE_INGEST_URL: stack.ingestUrl, ENERGY_PIPELINE_PROCESS_URL: stack.processUrl },
    ...(interrupt
      ? {
          onInterrupt: (handler: () => void) => {
            interrupt(handler);
            return () => {};
          },
        }
      : {}),
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

describe('energy-pipeline CLI', () => {
  it.each(['send', 'simulate', 'query'])('prints help for %s', async (command) => {
    const { code, stdout } = await cli([command, '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: energy-pipeline ${command}`);
    expect(stdout).toContain('--ingest-url');
    expect(stdout).toMatch(/Exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}3 .*\n {2}130 /);
  });

  it('prints its version from package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await cli([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('lists the commands, and exits 2 on an unknown one or a bad option', async () => {
    expect((await cli(['--help'])).stdout).toMatch(/send[\s\S]*simulate[\s\S]*query/);
    expect((await cli(['launch'])).code).toBe(2);
    const bad = await cli(['send', '--sit', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option '--sit'");
    expect(bad.stderr).toContain('Did you mean --site?');
    const notNumber = await cli(['send', '--site', 's', '--device', 'd', '--power', '12kW']);
    expect([notNumber.code, notNumber.stderr]).toEqual([2, expect.stringContaining("'--power <watts>' argument '12kW' is invalid")]);
    expect((await cli(['query', 'nonsense'])).stderr).toContain('Allowed choices are metrics, health');
    expect((await cli([])).code).toBe(2);
    expect((await cli(['help', 'send'])).code).toBe(0);
    const missing = await cli(['send', '--site', 'site-1']);
    expect([missing.code, missing.stderr.includes('--device, --power')]).toEqual([2, true]);
  });

  it('sends one reading, negative power written either way', async () => {
    const { code, stdout } = await cli(['send', '--site', 'site-9', '--device', 'inv-1', '--power=-1200.5', '--reading-id', 'cli-1', '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { reading_id: string; stream_id: string };
    expect(result.reading_id).toBe('cli-1');
    expect(await streamReadingIds(stack)).toContain('cli-1');
    // Another device: seq 7 is far below the clock-based numbers inv-1 got, too old for the server to check.
    const spaced = await cli(['send', '--site', 'site-9', '--device', 'inv-2', '--power', '-1200', '--reading-id', 'cli-2', '--seq', '7']);
    expect(spaced.code, spaced.stderr).toBe(0);
    const fields = (await storedReadings(stack.redis.client, stack.stream)).map((r) => r.fields);
    expect(fields.find((f) => f['reading_id'] === 'cli-2')).toMatchObject({ power_reading: '-1200', seq: '7' });
    expect(Number(fields.find((f) => f['reading_id'] === 'cli-1')!['seq'])).toBeGreaterThan(Date.now() * 1000 - 60e9);
  });

  it('reports a reading the server refuses, naming the field, with exit code 1', async () => {
    const { code, stderr } = await cli(['send', '--site', 'site 9', '--device', 'inv-1', '--power', '5']);
    expect(code).toBe(1);
    expect(stderr).toContain('HTTP 400');
    expect(stderr).toContain('site_id:');
  });

  it('simulates a fleet and summarises what was accepted', async () => {
    const before = (await streamReadingIds(stack)).length;
    const args = ['simulate', '--backfill', '--sites', '2', '--devices', '3', '--interval', '10m', '--duration', '2h', '--batch-size', '5', '--json'];
    const { code, stdout } = await cli(args);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as SimulationSummary;
    expect(summary).toMatchObject({ devices: 6, readings: 72, accepted: 72, rejected: 0 });
    expect(summary.latency.requests).toBe(Math.ceil(72 / 5));
    expect(summary.latency.p50_ms).toBeLessThanOrEqual(summary.latency.max_ms);
    expect((await streamReadingIds(stack)).length - before).toBe(72);
  });

  it('runs a live simulation in real time and prints a text summary', async () => {
    const { code, stdout } = await cli(['simulate', '--sites', '1', '--devices', '2', '--interval', '100ms', '--duration', '300ms']);
    expect(code).toBe(0);
    expect(stdout).toContain('Sent 6 readings');
    expect(stdout).toContain('6 accepted, 0 rejected');
    expect(stdout).toMatch(/latency p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms/);
  });

  it('draws a progress bar with an ETA on a terminal (stderr) during a long run, and clears it', async () => {
    const args = ['simulate', '--sites', '1', '--devices', '1', '--interval', '500ms', '--duration', '2s'];
    const { code, stdout, stderr } = await cli(args, { tty: true });
    expect(code).toBe(0);
    const drawn = stderr.replaceAll('\x1b[2K', '<clear line>');
    expect(drawn).toMatch(/\r<clear line>\[=*>? *\] +\d+% [1-4]\/4 · \d+ accepted, 0 rejected · \d+\/s · ETA \d+:\d\d/);
    expect(drawn.endsWith('\r<clear line>')).toBe(true);
    expect(stdout).not.toContain('\r');
    const piped = await cli(args);
    expect(piped.stderr).toBe('');
  });

  it('stops a live run on Ctrl-C, still prints the summary, and exits 130', async () => {
    const args = ['simulate', '--sites', '1', '--devices', '2', '--interval', '100ms', '--duration', '1h', '--json'];
    const { code, stdout } = await cli(args, { interrupt: (press) => setTimeout(press, 350) });
    expect(code).toBe(130);
    const summary = JSON.parse(stdout) as SimulationSummary;
    expect(summary.interrupted).toBe(true);
    expect(summary.readings).toBeGreaterThan(0);
    expect(summary.readings).toBeLessThan(20);
    expect(summary.accepted).toBe(summary.readings);
  });

  it('queries the processor', async () => {
    const total = (await streamReadingIds(stack)).length;
    const out = await eventually(async () => {
      const r = await cli(['query', 'metrics', '--json']);
      const m = JSON.parse(r.stdout) as { applied: { total: number } };
      return m.applied.total === total ? r : null;
    });
    expect(out.code).toBe(0);
    const text = await cli(['query']);
    expect(text.stdout).toContain(`applied: ${total} readings`);
    expect((await cli(['query', 'health'])).stdout).toContain('status ok');
    expect((await cli(['query', 'series'])).code).toBe(2); // needs --site
    expect((await cli(['query', 'nonsense'])).code).toBe(2);
    const sites = await cli(['query', 'sites', '--json']);
    const first = (JSON.parse(sites.stdout) as { sites: { site_id: string; count: number }[] }).sites[0]!;
    expect(first.count).toBeGreaterThan(0);
    const devices = await cli(['query', 'devices', '--site', first.site_id]);
    expect(devices.stdout).toMatch(/readings, mean .* W, latest/);
    const series = await cli(['query', 'series', '--site', first.site_id, '--bucket', 'hour', '--from', '2020-01-01T00:00:00Z', '--json']);
    // 2020 to now is far more than QUERY_MAX_POINTS hour buckets: a clear 400 naming `from`.
    expect(series.code).not.toBe(0);
    expect(series.stderr).toContain('from');
    const recent = await cli(['query', 'series', '--site', first.site_id, '--bucket', 'hour', '--json']);
    const points = (JSON.parse(recent.stdout) as { points: { count: number }[] }).points;
    expect(points.reduce((n, p) => n + p.count, 0)).toBeGreaterThan(0);
    expect((await cli(['query', 'dead-letters'])).stdout).toContain('0 dead letters');
    expect((await cli(['query', 'dead-letters', '--after', '0-0', '--limit', '5'])).code).toBe(0);
  });
});

describe('the CLI against a scripted server', () => {
  let server: FakeServer;
  afterAll(() => server?.close());

  it('exits 3 when a run ends with some readings rejected, 1 when none got through', async () => {
    server = await startFakeServer((req) => {
      const readings = (req.body as { readings: unknown[] }).readings;
      const results = readings.map((_, index) =>
        index % 2 ? { index, status: 'rejected', error: 'validation_failed', message: 'no' } : { index, status: 'accepted', stream_id: '1-1', duplicate: false },
      );
      const accepted = results.filter((r) => r.status === 'accepted').length;
      return { status: 200, body: { accepted, rejected: readings.length - accepted, results } };
    });
    const env = { ENERGY_PIPELINE_INGEST_URL: server.url };
    const run = await cli(['simulate', '--backfill', '--sites', '1', '--devices', '2', '--interval', '10m', '--duration', '1h'], { env });
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('6 accepted, 6 rejected');
    await server.close();
    server = await startFakeServer(() => ({ status: 401, body: { error: 'unauthorized', message: 'no key' } }));
    const refused = await cli(['simulate', '--backfill', '--duration', '1h'], { env: { ENERGY_PIPELINE_INGEST_URL: server.url } });
    expect(refused.code).toBe(1);
    await server.close();
  });

  it('counts readings that may already be stored apart from rejections, and names the fields of conflicts', async () => {
    // By order of first arrival: an answer whose outcome is unknown (then, resent, too old to check),
    // a conflict on power_reading, accepted, too old to check at once.
    const kind = new Map<string, number>();
    server = await startFakeServer((req) => {
      const readings = (req.body as { readings: { reading_id: string }[] }).readings;
      const results = readings.map(({ reading_id }, index) => {
        const resend = kind.has(reading_id);
        if (!resend) kind.set(reading_id, kind.size % 4);
        const tooOld = { index, status: 'rejected', error: 'out_of_order', message: 'too old to check', stored_before: 'unknown' };
        switch (kind.get(reading_id)) {
          case 0:
            return resend ? tooOld : { index, status: 'rejected', error: 'unavailable', message: 'not acknowledged', outcome: 'unknown' };
          case 1: {
            const issues = [{ in: 'body', path: 'power_reading', message: 'differs from the reading already stored under this identity' }];
            return { index, status: 'rejected', error: 'conflict', message: 'a different reading is stored', issues };
          }
          case 2:
            return { index, status: 'accepted', stream_id: '1-1', duplicate: false };
          default:
            return tooOld;
        }
      });
      const accepted = results.filter((r) => r.status === 'accepted').length;
      return { status: 200, body: { accepted, rejected: readings.length - accepted, results } };
    });
    const env = { ENERGY_PIPELINE_INGEST_URL: server.url };
    const args = ['simulate', '--backfill', '--sites', '1', '--devices', '2', '--interval', '10m', '--duration', '1h'];
    const text = await cli(args, { env });
    // 12 readings: 3 of each kind. Rejected ones make it a partial run; unconfirmed ones do not count.
    expect(text.code).toBe(3);
    expect(text.stdout).toContain('3 accepted, 6 rejected');
    expect(text.stdout).toContain('3 may already be stored (answer lost earlier; too old to check); not counted as rejected');
    expect(text.stdout).toContain('Rejected by reason: conflict 3, out_of_order 3');
    expect(text.stdout).toContain('Conflicts: 3 differ from the reading already stored under their identity (differing: power_reading 3)');

    kind.clear();
    const json = JSON.parse((await cli([...args, '--json'], { env })).stdout) as SimulationSummary;
    expect(json).toMatchObject({ readings: 12, accepted: 3, rejected: 6, unconfirmed: 3, conflict_fields: { power_reading: 3 } });
    expect(json.rejected_by_reason).toEqual({ conflict: 3, out_of_order: 3 });
    await server.close();
  });

  it('send: a resend after a lost answer that is too old to check is unconfirmed (exit 0), not a refusal', async () => {
    const tooOld = { status: 409, body: { error: 'out_of_order', message: 'Not stored now: too old to check', stored_before: 'unknown' } };
    server = await startFakeServer((_req, n) => (n % 2 === 1 ? 'hang' : tooOld));
    const env = { ENERGY_PIPELINE_INGEST_URL: server.url };
    const send = ['send', '--site', 'site-1', '--device', 'meter-1', '--power', '5', '--reading-id', 'r-lost', '--timeout', '200ms'];
    const text = await cli(send, { env });
    expect([text.code, text.stdout, text.stderr]).toEqual([0, 'unconfirmed: reading r-lost may already be stored (answer lost earlier; too old to check)\n', '']);
    const json = await cli([...send, '--json'], { env });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ reading_id: 'r-lost', stream_id: null, status: 'unconfirmed', error: 'out_of_order', stored_before: 'unknown' });
    expect(server.requests).toHaveLength(4);
    await server.close();

    // Answered at once: a refusal, exit 1, saying what stored_before means.
    server = await startFakeServer(() => tooOld);
    const refused = await cli(send, { env: { ENERGY_PIPELINE_INGEST_URL: server.url } });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('HTTP 409: Not stored now: too old to check');
    expect(refused.stderr).toContain('stored before: unknown');
    await server.close();
  });

  it('send: a conflict exits 1 and names the fields that differ', async () => {
    const issues = [{ in: 'body', path: 'power_reading', message: 'differs from the reading already stored under this identity' }];
    server = await startFakeServer(() => ({ status: 409, body: { error: 'conflict', message: 'Not stored: a different reading is stored at seq 7', issues } }));
    const run = await cli(['send', '--site', 'site-1', '--device', 'meter-1', '--power', '5', '--seq', '7'], { env: { ENERGY_PIPELINE_INGEST_URL: server.url } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('HTTP 409: Not stored: a different reading is stored at seq 7\n  power_reading: differs from the reading already stored under this identity\n');
    expect(server.requests).toHaveLength(1);
    await server.close();
  });

  it('sends --api-key to both services, --process-api-key (or its env var) to the processor instead', async () => {
    server = await startFakeServer((req) =>
      req.url.startsWith('/dead-letters') ? { status: 200, body: { items: [], next: '1700000000000-5' } } : { status: 200, body: acceptAll(req.body) },
    );
    const env = { ENERGY_PIPELINE_INGEST_URL: server.url, ENERGY_PIPELINE_PROCESS_URL: server.url };
    const auth = () => server.requests.map((r) => `${r.url.split('?')[0]} ${r.headers['authorization']}`);
    await cli(['query', 'dead-letters', '--api-key', 'k-1'], { env });
    await cli(['query', 'dead-letters', '--api-key', 'k-1', '--process-api-key', 'k-admin'], { env });
    await cli(['query', 'dead-letters'], { env: { ...env, ENERGY_PIPELINE_API_KEY: 'k-env', ENERGY_PIPELINE_PROCESS_API_KEY: 'k-env-admin' } });
    await cli(['simulate', '--backfill', '--sites', '1', '--devices', '1', '--duration', '10m', '--api-key', 'k-1', '--process-api-key', 'k-admin'], { env });
    expect(auth()).toEqual(['/dead-letters Bearer k-1', '/dead-letters Bearer k-admin', '/dead-letters Bearer k-env-admin', '/readings/batch Bearer k-1']);
    await server.close();
  });

  it('pages dead letters with --after, as its "more:" line says', async () => {
    server = await startFakeServer((req) => ({
      status: 200,
      body: req.url.includes('after=') ? { items: [], next: null } : { items: [], next: '1700000000000-5' },
    }));
    const env = { ENERGY_PIPELINE_PROCESS_URL: server.url };
    const first = await cli(['query', 'dead-letters', '--limit', '2'], { env });
    const next = /more: (--after \S+)/.exec(first.stdout)?.[1];
    expect(next).toBe('--after 1700000000000-5');
    const second = await cli(['query', 'dead-letters', '--limit', '2', ...next!.split(' ')], { env });
    expect(second.code).toBe(0);
    expect(server.requests.map((r) => r.url)).toEqual(['/dead-letters?limit=2', '/dead-letters?limit=2&after=1700000000000-5']);
    await server.close();
  });
});

describe('shell completion', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ep-completion-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bash: the generated function completes commands, options, choices and values', async () => {
    const { code, stdout } = await cli(['completion', 'bash']);
    expect(code).toBe(0);
    writeFileSync(join(dir, 'energy-pipeline.bash'), stdout);
    // Calls the completion function as bash would for each line typed so far.
    const typed = ['', 'si', 'send --p', 'query --bucket ', 'query --bucket=h', 'query ', 'query --reason ', 'completion ', '--', 'send --site ', 'help q', 'watch ', 'query --a', 'query --after '];
    const script = [
      `source ${JSON.stringify(join(dir, 'energy-pipeline.bash'))}`,
      'complete -p energy-pipeline',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansions
      'try() { read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " || -z "$1" ]] && COMP_WORDS+=(""); COMP_WORDS=(energy-pipeline "${COMP_WORDS[@]}"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _energy_pipeline; echo "${COMPREPLY[*]}"; }',
      ...typed.map((t) => `try ${JSON.stringify(t.replace('=', ' = '))}`),
    ].join('\n');
    const { stdout: out } = await exec('bash', ['-c', script]);
    const [registered, ...answers] = out.split('\n');
    expect(registered).toBe('complete -F _energy_pipeline energy-pipeline');
    expect(Object.fromEntries(typed.map((t, i) => [t, answers[i]]))).toEqual({
      '': 'send simulate query watch completion help',
      si: 'simulate',
      'send --p': '--power --process-url --process-api-key',
      'query --bucket ': 'minute hour',
      'query --bucket=h': 'hour',
      'query ': 'metrics health sites devices series dead-letters',
      'query --reason ': 'validation_failed max_deliveries overflow',
      'completion ': 'bash zsh',
      '--': '--version --help',
      'send --site ': '',
      'help q': 'query',
      'watch ': 'site pipeline',
      // The dead-letter cursor, as its "more:" line says; an id completes nothing.
      'query --a': '--after --api-key',
      'query --after ': '',
    });
  });

  it('zsh: one _arguments spec per command, with every option and choice of the program', async () => {
    const { code, stdout } = await cli(['completion', 'zsh']);
    expect(code).toBe(0);
    expect(stdout.startsWith('#compdef energy-pipeline\n')).toBe(true);
    expect(stdout).toContain("'query:print processed figures from the processor'");
    expect(stdout).toContain("'--bucket[series bucket size]:size:(minute hour)'");
    expect(stdout).toContain("'1:argument:(metrics health sites devices series dead-letters)'");
    expect(stdout).toContain("'--seq[the device'\\''s sequence number");
    for (const option of ['--power', '--process-api-key', '--after', '--backfill']) expect(stdout).toContain(`'${option}[`);
    expect(stdout).toContain('compdef _energy_pipeline energy-pipeline');
    expect((await cli(['completion', 'fish'])).code).toBe(2);
  });
});

describe('npx energy-pipeline from the repository', () => {
  it('runs after npm ci, with nothing built', async () => {
    const { stdout } = await exec('npx', ['--no-install', 'energy-pipeline', '--help'], { cwd: repoDir });
    expect(stdout).toContain('Usage: energy-pipeline [options] [command]');
    const failed = await exec('npx', ['--no-install', 'energy-pipeline', 'send', '--site', 's'], { cwd: repoDir }).catch((e: { code: number; stderr: string }) => e);
    expect([(failed as { code: number }).code, (failed as { stderr: string }).stderr]).toEqual([2, expect.stringContaining('missing --device, --power')]);
  }, 60_000);
});

describe('simulated devices', () => {
  const noon = new Date('2026-06-01T13:00:00Z');
  const night = new Date('2026-06-01T01:00:00Z');

  it('generates along a bell over the day: negative by day, nothing at night', () => {
    const inverter = solarInverter('s', 'inv', 5000, 0, seededRandom(7));
    const day = Array.from({ length: 20 }, () => inverter.powerAt(noon));
    expect(Math.max(...day)).toBeLessThan(0);
    expect(Math.min(...day)).toBeGreaterThanOrEqual(-5000);
    expect(inverter.powerAt(night)).toBe(-0);
    const morning = Array.from({ length: 50 }, () => inverter.powerAt(new Date('2026-06-01T08:00:00Z')));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(morning)).toBeGreaterThan(mean(day));
  });

  it('consumes more at the evening peak than at night', () => {
    const meter = householdMeter('s', 'm', 300, 0, seededRandom(3));
    const mean = (at: Date) => Array.from({ length: 200 }, () => meter.powerAt(at)).reduce((a, b) => a + b, 0) / 200;
    expect(mean(new Date('2026-06-01T19:00:00Z'))).toBeGreaterThan(2 * mean(new Date('2026-06-01T03:30:00Z')));
    expect(meter.powerAt(night)).toBeGreaterThan(0);
  });

  it('builds the same fleet from the same seed', () => {
    const a = buildFleet(2, 3, seededRandom(42)).map((d) => `${d.siteId}/${d.deviceId}=${d.powerAt(noon)}`);
    const b = buildFleet(2, 3, seededRandom(42)).map((d) => `${d.siteId}/${d.deviceId}=${d.powerAt(noon)}`);
    expect(a).toEqual(b);
    expect(a.map((x) => x.split('=')[0])).toEqual([
      'site-001/inverter-1', 'site-001/meter-1', 'site-001/meter-2',
      'site-002/inverter-1', 'site-002/meter-1', 'site-002/meter-2',
    ]);
  });

  it('computes nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99), percentile(sorted, 100)]).toEqual([50, 95, 99, 100]);
    expect(summarizeLatencies([3, 1, 2])).toEqual({ requests: 3, p50_ms: 2, p95_ms: 3, p99_ms: 3, max_ms: 3 });
  });
});
