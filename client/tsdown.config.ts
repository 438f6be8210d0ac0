import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig } from 'tsdown';

// The repo compiles with TypeScript 7 (tsgo), which has no JS compiler API for the default dts
// generator; rolldown-plugin-dts runs it as a binary instead.
const tsgo = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');

export default defineConfig({
  entry: { index: 'src/index.ts', node: 'src/node/index.ts', cli: 'src/cli/bin.ts' },
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  // The contract is a private workspace package: bundle it (JS and types) so it is not a
  // runtime dependency. The processor is imported for one type only, its live router's
  // (`import type`), so only declarations come from it. Everything in `dependencies` stays external.
  noExternal: ['@energy-pipeline/contract', '@energy-pipeline/process'],
  // Only the `node` entry and the CLI import these; a test keeps them out of the main entry.
  external: [/^node:/],
  inputOptions: { resolve: { conditionNames: ['@energy-pipeline/source', 'import', 'default'] } },
  // The root tsconfig sees both client/ and contract/, so declarations of both can be bundled.
  dts: { tsconfig: '../tsconfig.json', tsgo: { path: tsgo } },
  clean: true,
});
