/**
 * The test tiers. `npm test` runs them all; `npm run test:<tier>` runs one (vitest projects).
 *
 * - unit: no Redis, no child processes, no network but loopback fakes; seconds in all. The tier
 *   sets EP_TEST_TIER=unit, and scripts/lib/redis-server.ts refuses to start a Redis under it.
 * - service: each service (and the SDK against it) on its own real redis-server.
 * - fault: Redis killed, frozen, failed over or clustered; TLS; the slow, process-heavy tests.
 * - browser: the dashboard in Debian's chromium through playwright-core.
 * - deploy: the chart, the images, the workflows, the alerts and dashboards (helm, promtool).
 *
 * Tiers are folders or single files, never a naming trick, so that a moved file stays visible in
 * review; test/scripts/tiers.test.ts checks every listed path exists. A test file in no list is
 * a service test.
 */
export const TIERS = {
  unit: [
    'contract/test/',
    'ingest/test/append-encoding.test.ts',
    'test/docs/design.test.ts',
    'test/docs/config-table.test.ts',
    'test/docs/readme.test.ts',
    'test/scripts/',
    'server-kit/test/api-keys.test.ts',
    'server-kit/test/http.test.ts',
    'server-kit/test/metrics.test.ts',
    'server-kit/test/shards.test.ts',
    'server-kit/test/backoff.test.ts',
    'server-kit/test/docs.test.ts',
    'client/test/types.test.ts',
    'client/test/sequence.test.ts',
    'client/test/buffer.test.ts',
    'client/test/retry.test.ts',
    'ingest/test/stack.test.ts',
    'process/test/live-units.test.ts',
  ],
  fault: [
    'test/cluster/',
    'test/e2e/',
    'process/test/faults.test.ts',
    'process/test/any-order-faults.test.ts',
    'process/test/recovery.test.ts',
    'ingest/test/frozen-redis.test.ts',
    'ingest/test/redis-down.test.ts',
    'server-kit/test/memory-policy.test.ts',
  ],
  browser: ['test/browser/'],
  deploy: ['test/deploy/', 'test/ops/'],
} as const;

export type Tier = keyof typeof TIERS | 'service';

/** Vitest include globs for a list of folders (ending in `/`) and files. */
export function globs(paths: readonly string[]): string[] {
  return paths.map((p) => (p.endsWith('/') ? `${p}**/*.test.ts` : p));
}

/** The tier a test file (repository-relative path) belongs to. */
export function tierOf(file: string): Tier {
  for (const [tier, paths] of Object.entries(TIERS) as [keyof typeof TIERS, readonly string[]][]) {
    if (paths.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p))) return tier;
  }
  return 'service';
}
