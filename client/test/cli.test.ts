import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../src/cli/io.js';
import { main } from '../src/cli/main.js';
import { buildFleet, householdMeter, seededRandom, solarInverter } from '../src/cli/profiles.js';
import { percentile, summarizeLatencies } from '../src/cli/stats.js';
import type { SimulationSummary } from '../src/cli/simulate.js';
import { eventually } from '../../test/support/redis-server.js';
import { type Stack, startStack, streamReadingIds } from './helpers.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

async function cli(args: string[], { tty = false } = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTTY: tty,
    env: { ENERGY_PIPELINE_INGEST_URL: stack.ingestUrl, ENERGY_PIPELINE_PROCESS_URL: stack.processUrl },
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
  });

  it('lists the commands, and exits 2 on an unknown one or a bad option', async () => {
    expect((await cli(['--help'])).stdout).toMatch(/send[\s\S]*simulate[\s\S]*query/);
    expect((await cli(['launch'])).code).toBe(2);
    const bad = await cli(['send', '--sit', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--sit');
    const missing = await cli(['send', '--site', 'site-1']);
    expect([missing.code, missing.stderr.includes('--device, --power')]).toEqual([2, true]);
  });

  it('sends one reading', async () => {
    const { code, stdout } = await cli(['send', '--site', 'site-9', '--device', 'inv-1', '--power=-1200.5', '--reading-id', 'cli-1', '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { reading_id: string; stream_id: string };
    expect(result.reading_id).toBe('cli-1');
    expect(await streamReadingIds(stack)).toContain('cli-1');
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

  it('draws progress on a terminal during a long run', async () => {
    const args = ['simulate', '--sites', '1', '--devices', '1', '--interval', '500ms', '--duration', '2s'];
    const { code, stdout } = await cli(args, { tty: true });
    expect(code).toBe(0);
    expect(stdout).toMatch(/\r\[=+ *\] \d+% \d+\/4 sent/);
  });

  it('queries the processor', async () => {
    const total = (await streamReadingIds(stack)).length;
    const out = await eventually(async () => {
      const r = await cli(['query', 'metrics', '--json']);
      const m = JSON.parse(r.stdout) as { processed: { total: number } };
      return m.processed.total === total ? r : null;
    });
    expect(out.code).toBe(0);
    const text = await cli(['query']);
    expect(text.stdout).toContain(`processed: ${total} total`);
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
  });
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
