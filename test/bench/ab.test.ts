import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

describe('npm run bench:ab', () => {
  it('loads two checkouts in alternating rounds on one Redis and writes each round of each side (this checkout against itself)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ep-bench-ab-'));
    const file = join(dir, 'ab.json');
    try {
      const { stdout } = await promisify(execFile)('npm', ['run', 'bench:ab', '--', '--against', '.', '--route', 'batch', '--rounds', '2', '--seconds', '1', '--json', file], {
        timeout: 150_000,
      });
      const run = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { rps: number[]; ingestCpuUs: number[]; redisCpuUs: number[] }> & { ratios: number[] };
      expect(run.ratios).toHaveLength(2);
      for (const side of [run.this!, run.other!]) {
        for (const figures of [side.rps, side.ingestCpuUs, side.redisCpuUs]) {
          expect(figures).toHaveLength(2);
          for (const x of figures) expect(Number.isFinite(x) && x > 0, JSON.stringify(side)).toBe(true);
        }
      }
      // The rounds alternate which side goes first.
      expect(stdout.indexOf('round 1 this')).toBeLessThan(stdout.indexOf('round 1 other'));
      expect(stdout.indexOf('round 2 other')).toBeLessThan(stdout.indexOf('round 2 this'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 160_000);
});
