import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startRedisServer } from '../../scripts/lib/redis-server.js';
import { spawnService } from '../../scripts/lib/spawn-service.js';
import { TIERS, tierOf } from '../tiers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts') && !e.parentPath.includes('node_modules'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

describe('test tiers', () => {
  it('list only paths that exist, so a moved test file cannot drop into another tier unnoticed', () => {
    const missing = Object.values(TIERS).flat().filter((p) => !existsSync(join(root, p)));
    expect(missing).toEqual([]);
  });

  it('put the slow and external work outside the unit tier', () => {
    const files = ['contract', 'server-kit', 'ingest', 'process', 'client', 'test'].flatMap((d) => testFiles(d));
    const count = (tier: string) => files.filter((f) => tierOf(f) === tier).length;
    expect(count('unit')).toBeGreaterThan(5);
    expect(count('service')).toBeGreaterThan(5);
    expect(tierOf('test/cluster/pipeline.test.ts')).toBe('fault');
    expect(tierOf('test/browser/dashboard.test.ts')).toBe('browser');
    expect(tierOf('test/deploy/chart.test.ts')).toBe('deploy');
    expect(tierOf('process/test/queries.test.ts')).toBe('service');
  });

  it('refuses to start Redis or a service in the unit tier', async () => {
    expect(process.env.EP_TEST_TIER).toBe('unit');
    await expect(startRedisServer()).rejects.toThrow(/unit tier/);
    expect(() => spawnService('ingest', {})).toThrow(/unit tier/);
  });
});
