/**
 * `npm run bench:profile`: where the time goes. Runs ingest and the processor as their own
 * processes under `node --cpu-prof`, loaded from a separate process, and reads Redis INFO
 * commandstats and CPU per phase (CONFIG RESETSTAT before each, on a private redis-server):
 *
 *   single  POST /readings, one reading per request
 *   baseline  the same load on the one-XADD ts-rest route (baseline-server.ts), to set beside single
 *   batch   POST /readings/batch, 500 readings per request, one gateway's (batch-ts: without seq)
 *   apply   the processor draining a stream of pre-loaded readings, one per entry
 *   apply-batch  the same for gateway batch entries of 500 readings, as batch ingest writes them
 *   ablate  POST /readings throughput with an access line per request, or logging, the rate
 *           limiter or auth turned off (no profiler), beside the one-XADD baseline route, to price each of them
 *   dedupe  ingest's append script alone, in the shapes ingest calls it (dedupe-script.ts): Redis's
 *           time per reading and the dedupe state's bytes per device
 *   dedupe-callgrind  the same on a redis-server under callgrind (callgrind-redis.ts): the
 *           instructions Redis runs in the script per reading, which a busy machine does not
 *           change (a few minutes: valgrind is slow)
 *
 * Writes the profiles, their summaries and phases.json to --out (default .data/profile).
 * Flags: --seconds 15  --readings 150000  --connections 50  --ablate-rounds 3
 *        --only single,baseline,batch,batch-ts,apply,apply-batch,ablate,dedupe,dedupe-callgrind
 *        --ingest-env LOG_LEVEL=warn,RATE_LIMIT_MAX=0   (the profiled ingest's env, over the bench's)
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { appendBatchEntries, appendReadings, fleetReadings, gatewayReadings } from '../lib/readings.js';
import { formatSummary, readProfile, summarise } from './cpuprofile-summary.js';
import { startCallgrindRedis } from './callgrind-redis.js';
import { profileDedupeScript } from './dedupe-script.js';
import { watchDrain } from './drain.js';
import type { LoadSpec } from './load-spec.js';
import { processCpuUs } from './process-cpu.js';
import { commandStats, openRedisTarget, redisCpuUs, storedReadings, type RedisTarget } from './redis-target.js';
import { BENCH_AUTH, runLoad, startBaselineApp, startIngest, startProcessor } from './services.js';

const { values: flags } = parseArgs({
  options: {
    out: { type: 'string', default: '.data/profile' },
    seconds: { type: 'string', default: '15' },
    readings: { type: 'string', default: '150000' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string', default: 'single,batch,batch-ts,apply,ablate' },
    'ablate-rounds': { type: 'string', default: '3' },
    'ingest-env': { type: 'string', default: '' },
  },
});
const out = resolve(flags.out);
const seconds = Number(flags.seconds);
const connections = Number(flags.connections);
const only = new Set(flags.only.split(','));
const ingestEnv = Object.fromEntries(
  flags['ingest-env']
    .split(',')
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const phases: Record<string, unknown> = {};

/** Starts a Redis measurement: resets commandstats and reads the CPU counter. */
async function redisMark(target: RedisTarget) {
  await target.client.config('RESETSTAT');
  return redisCpuUs(target);
}

/** Ends it: Redis CPU and commands per reading since `mark`. */
async function redisSince(target: RedisTarget, cpu0: number, readings: number) {
  const cpu = (await redisCpuUs(target)) - cpu0;
  const commands: Record<string, { callsPerReading: number; usPerReading: number; usPerCall: number }> = {};
  const stats = [...(await commandStats(target))].sort((a, b) => b[1].usec - a[1].usec);
  for (const [name, s] of stats) {
    commands[name] = { callsPerReading: s.calls / readings, usPerReading: s.usec / readings, usPerCall: s.usec / s.calls };
  }
  return { readings, redisCpuUsPerReading: cpu / readings, commands };
}

async function profiledIngest(target: RedisTarget, name: 'single' | 'batch' | 'batch-ts' | 'baseline') {
  const dir = join(out, name);
  rmSync(dir, { recursive: true, force: true });
  const stream = `profile-${name}`;
  const profiler = { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] };
  const ingest = name === 'baseline' ? await startBaselineApp(target.url, stream, profiler) : await startIngest(target.url, stream, ingestEnv, profiler);
  const batched = name === 'batch' || name === 'batch-ts';
  const spec: LoadSpec = {
    connections: batched ? 8 : connections,
    durationS: seconds,
    warmupS: 3,
    http: {
      url: ingest.url,
      path: batched ? '/readings/batch' : '/readings',
      headers: { ...BENCH_AUTH, 'content-type': 'application/json' },
      body: batched ? 'batch' : 'reading',
      batchSize: batched ? 500 : 1,
      seq: name !== 'batch-ts',
    },
  };
  const window = { fromUs: 0, toUs: 0 };
  const { load, atStart } = await runLoad(spec, async () => {
    window.fromUs = nowUs();
    return { cpu: await redisMark(target), length: await storedReadings(target, stream) };
  });
  window.toUs = nowUs();
  // Requests in flight when the load stopped still finish; per-reading figures divide by what was stored.
  await new Promise((r) => setTimeout(r, 200));
  const stored = (await storedReadings(target, stream)) - atStart.length;
  const redis = await redisSince(target, atStart.cpu, stored);
  if (load.errors > 0) console.warn(`${name}: ${load.errors} errors`);
  await ingest.stop();
  await target.client.flushall('SYNC');
  report(name, dir, window, { ...redis, seconds: load.seconds, rate: load.readings / load.seconds });
}

async function profiledApply(target: RedisTarget, name: 'apply' | 'apply-batch') {
  const dir = join(out, name);
  rmSync(dir, { recursive: true, force: true });
  const stream = `profile-${name}`;
  const total = Number(flags.readings);
  // What the drain counts is entries acknowledged.
  const entries =
    name === 'apply'
      ? (await appendReadings(target.client, stream, fleetReadings(total))).length
      : (await appendBatchEntries(target.client, stream, gatewayReadings(total))).length;
  const window = { fromUs: nowUs(), toUs: 0 };
  const cpu0 = await redisMark(target);
  const processor = await startProcessor(target.url, stream, 'profile', {}, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  const timing = await watchDrain(target.client, stream, 'profile', entries);
  window.fromUs = timing.startedAtUs;
  window.toUs = nowUs();
  const redis = await redisSince(target, cpu0, total);
  await processor.stop();
  await target.client.flushall('SYNC');
  report(name, dir, window, { ...redis, seconds: timing.seconds, rate: total / timing.seconds });
}

interface PhaseFigures {
  readings: number;
  seconds: number;
  rate: number;
  redisCpuUsPerReading: number;
  commands: Record<string, { callsPerReading: number; usPerReading: number; usPerCall: number }>;
}

/**
 * A phase's Redis commands as a Markdown table, for docs/performance.md. A script's own line
 * (evalsha) includes the time of the commands it called, which also have lines of their own.
 */
function commandTable(name: string, p: PhaseFigures) {
  const rows = Object.entries(p.commands)
    .filter(([, c]) => c.callsPerReading >= 0.001)
    .map(([cmd, c]) => `| ${cmd} | ${c.callsPerReading.toFixed(3)} | ${c.usPerCall.toFixed(2)} | ${c.usPerReading.toFixed(2)} |`);
  return [
    `### ${name}: ${Math.round(p.rate)} readings/s, Redis CPU ${p.redisCpuUsPerReading.toFixed(1)} µs/reading`,
    '',
    '| command | calls/reading | µs/call | µs/reading |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}

function report(name: string, dir: string, window: { fromUs: number; toUs: number }, phase: PhaseFigures) {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (others are tsx's loader).
  const file = readdirSync(dir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  const summary = file ? summarise(readProfile(join(dir, file)), window, 60) : null;
  phases[name] = { ...phase, profile: file ? join(dir, file) : null, cpu: summary };
  if (summary) writeFileSync(join(out, `${name}.txt`), `${formatSummary(name, summary)}\n`);
  writeFileSync(join(out, `${name}-redis.md`), commandTable(name, phase));
  console.log(`${name}: ${JSON.stringify(phase).slice(0, 300)}`);
}

/**
 * POST /readings with parts of ingest turned off (no profiler), beside the one-XADD baseline
 * route, rounds interleaved: requests per second, and the CPU per request of the server (/proc),
 * Redis (INFO) and the load generator, which a shared machine moves far less than the rate.
 */
async function ablate(target: RedisTarget) {
  const variants: Record<string, Record<string, string> | 'baseline'> = {
    'as deployed': {},
    'an access line per request (ACCESS_LOG=all)': { ACCESS_LOG: 'all' },
    'logging off (LOG_LEVEL=warn)': { LOG_LEVEL: 'warn' },
    'rate limiter off (RATE_LIMIT_MAX=0)': { RATE_LIMIT_MAX: '0' },
    'auth off (AUTH_DISABLED=true)': { AUTH_DISABLED: 'true' },
    'all three off': { LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '0', AUTH_DISABLED: 'true' },
    'one-XADD ts-rest baseline': 'baseline',
  };
  const results: Record<string, { rate: number[]; cpuUsPerRequest: number[]; redisCpuUsPerRequest: number[]; loadCpuUsPerRequest: number[] }> = {};
  for (let round = 0; round < Number(flags['ablate-rounds']); round++) {
    for (const [name, env] of Object.entries(variants)) {
      const stream = 'ablate';
      const svc = env === 'baseline' ? await startBaselineApp(target.url, stream) : await startIngest(target.url, stream, env);
      const { load, atStart } = await runLoad(
        {
          connections,
          durationS: Math.max(3, Math.round(seconds / 3)),
          warmupS: 2,
          http: { url: svc.url, path: '/readings', headers: { ...BENCH_AUTH, 'content-type': 'application/json' }, body: 'reading' },
        },
        async () => ({ cpu: processCpuUs(svc.pid), redis: await redisCpuUs(target) }),
      );
      const cpuEnd = processCpuUs(svc.pid);
      const redisUs = (await redisCpuUs(target)) - atStart.redis;
      await svc.stop();
      await target.client.flushall('SYNC');
      const rate = load.readings / load.seconds;
      const cpu = atStart.cpu === null || cpuEnd === null ? Number.NaN : (cpuEnd - atStart.cpu) / load.requests;
      const redis = redisUs / load.requests;
      const loader = (load.cpuUs ?? Number.NaN) / load.requests;
      const r = results[name] ?? { rate: [], cpuUsPerRequest: [], redisCpuUsPerRequest: [], loadCpuUsPerRequest: [] };
      r.rate.push(rate);
      r.cpuUsPerRequest.push(cpu);
      r.redisCpuUsPerRequest.push(redis);
      r.loadCpuUsPerRequest.push(loader);
      results[name] = r;
      console.log(
        `ablate round ${round + 1}: ${name}: ${Math.round(rate)}/s; CPU µs/request: server ${cpu.toFixed(1)}, ` +
          `Redis ${redis.toFixed(1)}, load generator ${loader.toFixed(1)} (${load.errors} errors)`,
      );
    }
  }
  phases.ablate = results;
}

mkdirSync(out, { recursive: true });
const target = await openRedisTarget(null);
try {
  if (only.has('single')) await profiledIngest(target, 'single');
  if (only.has('baseline')) await profiledIngest(target, 'baseline');
  if (only.has('batch')) await profiledIngest(target, 'batch');
  if (only.has('batch-ts')) await profiledIngest(target, 'batch-ts');
  if (only.has('apply')) await profiledApply(target, 'apply');
  if (only.has('apply-batch')) await profiledApply(target, 'apply-batch');
  if (only.has('ablate')) await ablate(target);
  if (only.has('dedupe')) phases.dedupe = await profileDedupeScript(target);
  if (only.has('dedupe-callgrind')) {
    const counted = await startCallgrindRedis();
    try {
      phases.dedupeCallgrind = await profileDedupeScript(counted, 6_000, undefined, counted);
    } finally {
      await counted.stop();
    }
  }
  writeFileSync(join(out, 'phases.json'), `${JSON.stringify(phases, null, 2)}\n`);
  console.log(`profiles, summaries (*.txt) and phases.json in ${out}`);
} finally {
  await target.stop();
}
