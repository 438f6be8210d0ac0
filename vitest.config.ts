import { defaultServerConditions } from 'vite';
import { configDefaults, defineConfig } from 'vitest/config';
import { globs, TIERS } from './test/tiers.js';

// Workspace packages resolve to their TypeScript sources in tests, as in `npm start`.
const conditions = ['@energy-pipeline/source', ...defaultServerConditions];
const ALL = ['*/test/**/*.test.ts', 'test/**/*.test.ts'];
const listed = Object.values(TIERS).flatMap((paths) => globs(paths));

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Test files start their own redis-server; two at a time matches the two cores.
    maxWorkers: 2,
    // One project per tier (test/tiers.ts); `npm test` runs them all, `vitest --project unit` one.
    // The unit tier shares each worker's module cache between files (isolate: false): importing
    // zod, fastify and the contract afresh for every file was two thirds of its time (17 s -> 7 s).
    // Its files hold no global state between them; the other tiers start processes and stay isolated.
    projects: [
      { extends: true, test: { name: 'unit', include: globs(TIERS.unit), env: { EP_TEST_TIER: 'unit' }, isolate: false } },
      { extends: true, test: { name: 'service', include: ALL, exclude: [...configDefaults.exclude, ...listed] } },
      { extends: true, test: { name: 'fault', include: globs(TIERS.fault) } },
      { extends: true, test: { name: 'browser', include: globs(TIERS.browser) } },
      { extends: true, test: { name: 'deploy', include: globs(TIERS.deploy) } },
    ],
  },
});
