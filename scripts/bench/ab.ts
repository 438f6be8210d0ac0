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
import type { LoadSpec } from './load-spec.js';
import { processCpuUs } from './process-cpu.js';
import { clearStreams, openRedisTarget, redisCpuUs } from './redis-target.js';
import { BENCH_AUTH, killStarted, type RunningService, runLoad, startIngest } from './services.js';

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

interface Side {
  name: 'this' | 'other';
  stream: string;
  service: RunningService;
  rps: number[];
  cpuUs: number[];
  redisUs: number[];
}

const target = await openRedisTarget(null);
const sides: Side[] = [];
try {
  for (const [name, start] of [['this', startIngest], ['other', other.startIngest]] as const) {
    const stream = `ab-${name}`;
    sides.push({ name, stream, service: await start(target.url, stream), rps: [], cpuUs: [], redisUs: [] });
  }
  let firstReading = 0;
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const spec: LoadSpec = {
        connections: route === 'single' ? 50 : 8,
        durationS: seconds,
        warmupS: 2,
        firstReading,
        http: {
          url: side.service.url,
          path: route === 'single' ? '/readings' : '/readings/batch',
          headers: { ...BENCH_AUTH, 'content-type': 'application/json' },
          body: route === 'single' ? 'reading' : 'batch',
          ...(route === 'batch' ? { batchSize: 500 } : {}),
        },
      };
      // Never the same readings twice: each round's would be repeats.
      firstReading += 100_000_000;
      const { load, atStart } = await runLoad(spec, async () => ({ cpu: processCpuUs(side.service.pid), redis: await redisCpuUs(target) }));
      await new Promise((r) => setTimeout(r, 200));
      const cpu = processCpuUs(side.service.pid);
      if (load.readings === 0) throw new Error(`${side.name}: no reading got through (${JSON.stringify(load.errorKinds)})`);
      side.rps.push(load.readings / load.seconds);
      side.cpuUs.push(cpu !== null && atStart.cpu !== null ? (cpu - atStart.cpu) / load.readings : Number.NaN);
      side.redisUs.push(((await redisCpuUs(target)) - atStart.redis) / load.readings);
      console.log(
        `round ${round + 1} ${side.name}: ${Math.round(side.rps.at(-1)!)} readings/s, ingest ${side.cpuUs.at(-1)!.toFixed(2)} µs and Redis ${side.redisUs.at(-1)!.toFixed(2)} µs of CPU per reading${load.errors > 0 ? `, ${load.errors} errors` : ''}`,
      );
      await clearStreams(target, [side.stream]);
    }
  }
} finally {
  await Promise.all(sides.map((s) => s.service.stop()));
  killStarted();
  await target.stop();
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const [mine, theirs] = sides as [Side, Side];
const ratios = mine.rps.map((r, i) => r / theirs.rps[i]!);
console.log(`\n${route}: this checkout's readings/s over ${flags.against}'s, round by round: ${ratios.map((r) => r.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(2)}`);
for (const s of sides) {
  console.log(`  ${s.name}: ${Math.round(median(s.rps))} readings/s, ingest ${median(s.cpuUs).toFixed(2)} µs, Redis ${median(s.redisUs).toFixed(2)} µs of CPU per reading (medians)`);
}
if (flags.json) {
  const figures = Object.fromEntries(sides.map((s) => [s.name, { rps: s.rps, ingestCpuUs: s.cpuUs, redisCpuUs: s.redisUs }]));
  writeFileSync(flags.json, `${JSON.stringify({ route, against: resolve(flags.against), rounds, seconds, ratios, ...figures }, null, 2)}\n`);
}
