/**
 * `npm run bench`: one table of ratios, each a measurement against a baseline taken in the same
 * run on the same machine, so that a shared, noisy machine shifts both sides alike. Compare
 * ratios, not raw rates. Rows: scripts/bench/rows.ts; measurements: scripts/bench/suites/.
 *
 *   npm run bench                          default size, about 3 minutes
 *   npm run bench -- --size long           more rounds, longer runs
 *   npm run bench -- --json after.json     also write every figure as JSON
 *   npm run bench -- --compare before.json print the ratios of an earlier run beside this one's
 *   npm run bench -- --only drain          some suites only (single, batch, drain, cluster, wait)
 *   npm run bench -- --cluster             also the same work on a 3-master Redis Cluster (6 shards)
 *                                          vs one node, per master, and WRITE_REPLICAS=1 vs 0
 *   npm run bench -- --redis-url redis://… an existing Redis instead of a private redis-server
 *                                          (never flushed; CPU figures then include its other clients)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { type BenchOptions, createContext } from './context.js';
import { startInflux } from './influx.js';
import { computeRow, formatComparison, formatTable, type BenchRun, type Facts } from './report.js';
import { openRedisTarget, redisVersion } from './redis-target.js';
import { CLUSTER_ROWS, ROWS } from './rows.js';
import { killStarted } from './services.js';
import { CLUSTER_SUITES, SUITES } from './suites/index.js';

const SIZES: Record<string, BenchOptions> = {
  /** Seconds: for the bench's own test, not for figures. */
  tiny: { rounds: 1, durationS: 2, warmupS: 0, drainReadings: 10_000, connections: 8, batchConnections: 2, batchSize: 500 },
  default: { rounds: 2, durationS: 5, warmupS: 2, drainReadings: 80_000, connections: 50, batchConnections: 8, batchSize: 500 },
  long: { rounds: 3, durationS: 15, warmupS: 3, drainReadings: 300_000, connections: 50, batchConnections: 8, batchSize: 500 },
};

const { values: flags } = parseArgs({
  options: {
    size: { type: 'string', default: 'default' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    json: { type: 'string' },
    compare: { type: 'string' },
    only: { type: 'string' },
    'redis-url': { type: 'string' },
    'no-influx': { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
  },
});
const size = SIZES[flags.size];
if (!size) throw new Error(`--size must be one of ${Object.keys(SIZES).join(', ')}`);
const options: BenchOptions = {
  ...size,
  ...(flags.rounds ? { rounds: Number(flags.rounds) } : {}),
  ...(flags.duration ? { durationS: Number(flags.duration) } : {}),
};
const allSuites = { ...SUITES, ...CLUSTER_SUITES };
const defaultNames = [...Object.keys(SUITES), ...(flags.cluster ? Object.keys(CLUSTER_SUITES) : [])];
const suites = (flags.only?.split(',') ?? defaultNames).map((name) => {
  const suite = allSuites[name];
  if (!suite) throw new Error(`--only: unknown suite ${name} (${Object.keys(allSuites).join(', ')})`);
  return suite;
});
const clusterRan = suites.some((s) => Object.values(CLUSTER_SUITES).includes(s));
const rows = clusterRan ? [...ROWS, ...CLUSTER_ROWS] : ROWS;
const before = flags.compare ? (JSON.parse(readFileSync(flags.compare, 'utf8')) as BenchRun) : null;

const git = (...args: string[]) => {
  try {
    return execFileSync('git', args, { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};

const startedAt = new Date().toISOString();
const loadBefore = loadavg();
const facts: Facts = {};
const target = await openRedisTarget(flags['redis-url'] ?? null);
const influx = flags['no-influx'] ? null : await startInflux();
const ctx = createContext(options, target, influx, facts);
// Ctrl-C: leave no service, influxd or redis-server behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killStarted();
    void Promise.allSettled([influx?.stop(), target.stop()]).then(() => process.exit(130));
  });
}
let run: BenchRun;
try {
  console.log(`bench: ${flags.size}, ${options.rounds} round(s) of ${options.durationS} s per side; ${target.description}; ${influx ? `influxd ${influx.version}` : 'no influxd'}`);
  for (const suite of suites) {
    console.log(suite.name);
    await suite.run(ctx);
  }
  run = {
    version: 1,
    startedAt,
    git: { commit: git('rev-parse', 'HEAD'), branch: git('rev-parse', '--abbrev-ref', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' },
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      node: process.version,
      redis: await redisVersion(target),
      redisTarget: target.description,
      influxd: influx?.version ?? null,
      loadAverage1mBefore: loadBefore[0],
      loadAverage1mAfter: loadavg()[0],
    },
    options: { size: flags.size, ...options, suites: suites.map((s) => s.name) },
    rows: rows.map((spec) => computeRow(spec, facts)),
    facts,
  };
} finally {
  await influx?.stop();
  await target.stop();
}

console.log(`\n${formatTable(run.rows)}`);
console.log(
  `\nMedians over ${options.rounds} round(s); "range" is the ratio's spread across rounds. Load average ${loadBefore[0]!.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores.`,
);
if (flags.json) {
  writeFileSync(flags.json, `${JSON.stringify(run, null, 2)}\n`);
  console.log(`figures written to ${flags.json}`);
}
if (before) console.log(`\n${formatComparison(before, run)}`);
