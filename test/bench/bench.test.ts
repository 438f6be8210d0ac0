import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { influxVersion } from '../../scripts/bench/influx.js';
import { computeRow, formatComparison, formatTable, type BenchRun, type RowSpec } from '../../scripts/bench/report.js';
import { CLUSTER_ROWS, ROWS } from '../../scripts/bench/rows.js';

const spec: RowSpec = { id: 'x', title: 'x vs y', unit: 'req/s', measured: 'x', baseline: 'y', target: { op: '>=', value: 0.8 } };

describe('bench report', () => {
  it('divides round by round and takes the median of the ratios', () => {
    const row = computeRow(spec, { x: [90, 50, 80], y: [100, 100, 100] });
    expect(row.ratio).toEqual({ median: 0.8, min: 0.5, max: 0.9, rounds: [0.9, 0.5, 0.8] });
    expect(row.measured?.median).toBe(80);
    expect(row.met).toBe(true);
  });

  it('sums lists of facts per round, and judges a cost target from below', () => {
    const cost: RowSpec = { ...spec, measured: ['a', 'b'], baseline: ['c', 'd'], target: { op: '<=', value: 1.5 } };
    const row = computeRow(cost, { a: [10, 12], b: [20, 20], c: [5, 5], d: [10, 11] });
    expect(row.ratio?.rounds).toEqual([2, 2]);
    expect(row.met).toBe(false);
  });

  it('pairs only rounds where both sides were measured', () => {
    const row = computeRow(spec, { x: [90, null, 80], y: [100, 100, null] });
    expect(row.ratio?.rounds).toEqual([0.9]);
  });

  it('skips a row whose facts are missing, saying why', () => {
    const row = computeRow({ ...spec, needs: 'influxd is not installed' }, { x: [1] });
    expect(row).toMatchObject({ ratio: null, met: null, skipped: 'influxd is not installed' });
    expect(formatTable([row])).toContain('skipped: influxd is not installed');
    // A suite left out (--only) is not measured, whatever its baseline needs.
    expect(computeRow({ ...spec, needs: 'influxd is not installed' }, {}).skipped).toBe('not measured');
  });

  it('prints before and after side by side', () => {
    const run = (x: number): BenchRun => ({
      version: 1,
      startedAt: '2026-01-01T00:00:00Z',
      git: { commit: 'abcdef1234567', branch: 'b', dirty: false },
      machine: {},
      options: {},
      rows: [computeRow(spec, { x: [x], y: [100] })],
      facts: {},
    });
    const text = formatComparison(run(40), run(80));
    expect(text).toMatch(/x vs y\s+0\.40\s+0\.80\s+100%/);
  });
});

describe('the bench and its helpers', () => {
  it('import no test code: what both need lives in scripts/lib (issue 13)', () => {
    const scripts = join(import.meta.dirname, '../../scripts');
    const files = readdirSync(scripts, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files).toContain(join('lib', 'redis-cluster.ts'));
    const offenders = files.filter((f) => /from\s+['"](\.\.\/)+test\//.test(readFileSync(join(scripts, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

describe('npm run bench', () => {
  it('measures every row and writes them as JSON (tiny size)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ep-bench-'));
    const file = join(dir, 'run.json');
    try {
      await promisify(execFile)('npm', ['run', 'bench', '--', '--size', 'tiny', '--json', file], { timeout: 170_000 });
      const run = JSON.parse(readFileSync(file, 'utf8')) as BenchRun;
      expect(run.rows.map((r) => r.id)).toEqual(ROWS.map((r) => r.id));
      expect(run.git.commit).toMatch(/^[0-9a-f]{40}$/);
      const hasInflux = influxVersion() !== null;
      for (const row of run.rows) {
        const needsInflux = ROWS.find((r) => r.id === row.id)?.needs !== undefined;
        if (needsInflux && !hasInflux) {
          expect(row.skipped, row.id).toMatch(/influxd/);
          continue;
        }
        expect(row.skipped, row.id).toBeNull();
        for (const value of [row.ratio!.median, row.measured!.median, row.baseline!.median]) {
          expect(Number.isFinite(value) && value > 0, `${row.id}: ${value}`).toBe(true);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('npm run bench -- --only cluster', () => {
  it('runs the same work on a 3-master Redis Cluster and one node, and the Redis CPU divides over the masters (tiny size)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ep-bench-cluster-'));
    const file = join(dir, 'run.json');
    try {
      await promisify(execFile)('npm', ['run', 'bench', '--', '--size', 'tiny', '--only', 'cluster', '--no-influx', '--json', file], { timeout: 110_000 });
      const run = JSON.parse(readFileSync(file, 'utf8')) as BenchRun;
      expect(run.rows.map((r) => r.id)).toEqual([...ROWS, ...CLUSTER_ROWS].map((r) => r.id));
      for (const row of run.rows.filter((r) => r.id.startsWith('cluster.'))) {
        expect(row.skipped, row.id).toBeNull();
        expect(Number.isFinite(row.ratio!.median) && row.ratio!.median > 0, row.id).toBe(true);
      }
      // Every master did part of the work, and the parts add up.
      const shares = [0, 1, 2].map((i) => run.facts[`spread.cluster.share.node${i}`]![0]!);
      expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      for (const share of shares) expect(share).toBeGreaterThan(0.1);
      // wait was not asked for.
      expect(run.rows.find((r) => r.id === 'wait.rps')?.skipped).toBe('not measured');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
