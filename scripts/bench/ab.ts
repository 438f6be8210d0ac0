/**
 * `npm run bench:ab -- --against <checkout>`: this checkout's ingest against another checkout's
 * (a `git worktree` of an earlier commit, with its node_modules), side by side on one private
 * redis-server, loaded in alternating rounds. Two `npm run bench` runs, one per commit, are
 * minutes apart on a machine whose neighbours change its speed from minute to minute (the
 * single row moved more between runs than between two codes: docs/performance.md, issue 19's
 * third pass); rounds seconds apart, in alternating order, share the machine's state.
 *
 *   git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci)
 *   npm run bench:ab -- --against /tmp/before --route single --rounds 6
 *
 * Flags: --route single|batch (the bench's loads: one reading per request over 50 connections,
 * or a gateway's 500 with seq over 8)  --rounds 6  --seconds 8  --json out.json
 * Each checkout's own scripts/bench/services.ts starts its ingest (compiled by tsc first, as the
 * bench runs it), so the other side runs exactly as that commit's bench ran it.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createContext, measureLoad, runRounds } from './context.js';
import type { LoadSpec } from './load-spec.js';
import { openRedisTarget } from './redis-target.js';
import { computeRow, formatTable } from './report.js';
import { BENCH_AUTH, killStarted, type RunningService, startIngest } from './services.js';

const { values: flags } = parseArgs({
  options: {
    against: { type: 'string' },
    route: { type: 'string', default: 'single' },
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '8' },
    json: { type: 'string' },
  },
});
if (!flags.against) throw new Error('--against <checkout> is required: a checkout of the code to compare with, its node_modules installed');
if (flags.route !== 'single' && flags.route !== 'batch') throw new Error(`--route must be single or batch (got ${flags.route})`);
const route = flags.route;
const rounds = Number(flags.rounds);
const seconds = Number(flags.seconds);

type StartIngest = (redisUrl: string, stream: string) => Promise<RunningService>;
const other = (await import(pathToFileURL(resolve(flags.against, 'scripts/bench/services.ts')).href)) as { startIngest: StartIngest };

const SIDES = ['this', 'other'] as const;
const target = await openRedisTarget(null);
const ctx = createContext(
  { rounds, durationS: seconds, warmupS: 2, drainReadings: 0, connections: 50, batchConnections: 8, batchSize: 500 },
  target,
  null,
);
const services: RunningService[] = [];
try {
  for (const [name, start] of [['this', startIngest], ['other', other.startIngest]] as const) services.push(await start(target.url, `ab-${name}`));
  let firstReading = 0;
  const sides = SIDES.map((name, i) => async () => {
    const { url, pid } = services[i]!;
    const spec: LoadSpec = {
      connections: route === 'single' ? ctx.options.connections : ctx.options.batchConnections,
      durationS: seconds,
      warmupS: ctx.options.warmupS,
      firstReading,
      http: {
        url,
        path: route === 'single' ? '/readings' : '/readings/batch',
        headers: { ...BENCH_AUTH, 'content-type': 'application/json' },
        body: route === 'single' ? 'reading' : 'batch',
        ...(route === 'batch' ? { batchSize: ctx.options.batchSize } : {}),
      },
    };
    // Never the same readings twice: each round's would be repeats.
    firstReading += 100_000_000;
    const r = await measureLoad(ctx, spec, `ab-${name}`, pid);
    ctx.record(`${name}.rps`, r.rate);
    ctx.record(`${name}.cpu`, r.serverCpuUsPerReading);
    ctx.record(`${name}.redis`, r.redisCpuUsPerReading);
    ctx.log(
      `round ${ctx.round + 1} ${name}: ${Math.round(r.rate)} readings/s, ingest ${r.serverCpuUsPerReading?.toFixed(2)} µs and Redis ${r.redisCpuUsPerReading.toFixed(2)} µs of CPU per reading`,
    );
  });
  await runRounds(ctx, sides);
} finally {
  await Promise.all(services.map((s) => s.stop()));
  killStarted();
  await target.stop();
}

const row = (title: string, unit: string, fact: string) => computeRow({ id: fact, title, unit, measured: `this.${fact}`, baseline: `other.${fact}`, target: null }, ctx.facts);
const rows = [
  row(`${route}: this checkout vs ${flags.against}`, 'readings/s', 'rps'),
  row('  CPU: ingest per reading', 'µs/reading', 'cpu'),
  row('  CPU: Redis per reading', 'µs/reading', 'redis'),
];
console.log(`\n${formatTable(rows)}`);
console.log(`readings/s round by round (this over other): ${rows[0]!.ratio?.rounds.map((r) => r.toFixed(2)).join(' ')}`);
if (flags.json) {
  const side = (name: string) => ({ rps: ctx.facts[`${name}.rps`], ingestCpuUs: ctx.facts[`${name}.cpu`], redisCpuUs: ctx.facts[`${name}.redis`] });
  const figures = { route, against: resolve(flags.against), rounds, seconds, ratios: rows[0]!.ratio?.rounds ?? [], this: side('this'), other: side('other') };
  writeFileSync(flags.json, `${JSON.stringify(figures, null, 2)}\n`);
}
