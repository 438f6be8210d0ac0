/**
 * The bench's load generator, run as its own process so that generating load never shares an
 * event loop (or a profile) with the service under test. It reads one LoadSpec as JSON from
 * BENCH_LOAD, runs a warm-up, prints `{"event":"start"}`, runs the measured part, and prints
 * `{"event":"end", ...LoadResult}` (the bench reads Redis counters at those two lines).
 */
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { encodeReading, readingJson } from '@energy-pipeline/contract';
import { fleetReading, gatewayReading } from '../lib/readings.js';
import type { LoadResult, LoadSpec } from './load-spec.js';

const spec = JSON.parse(process.env.BENCH_LOAD ?? 'null') as LoadSpec | null;
if (!spec) throw new Error('load.ts needs BENCH_LOAD');

const emit = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
let next = spec.firstReading ?? 0;
const nowMs = Date.now();
const fleet = { nowMs };
const gateways = { nowMs, batch: spec.http?.batchSize ?? 500, seq: spec.http?.seq ?? true };
// InfluxDB keeps one point per series and timestamp: every point gets its own microsecond.
const influxBaseUs = nowMs * 1000 - 3_600_000_000;

function body(): string {
  const n = spec!.http?.batchSize ?? 1;
  const from = next;
  next += n;
  switch (spec!.http?.body) {
    case 'reading':
      return JSON.stringify(fleetReading(from, fleet));
    case 'batch': {
      // Built like the line protocol below, by template rather than JSON.stringify (readingJson
      // writes the same text): this process shares the machine with the server it loads, and a
      // dearer body for one side would leave that side less CPU.
      let text = '{"readings":[';
      for (let k = 0; k < n; k++) text += (k > 0 ? ',' : '') + readingJson(gatewayReading(from + k, gateways));
      return `${text}]}`;
    }
    case 'influx': {
      let text = '';
      for (let k = 0; k < n; k++) {
        const r = gatewayReading(from + k, gateways);
        text += `power,site_id=${r.site_id},device_id=${r.device_id} power_w=${r.power_reading} ${influxBaseUs + from + k}\n`;
      }
      return text;
    }
    default:
      throw new Error(`unknown body ${spec!.http?.body}`);
  }
}

function errorKinds(result: autocannon.Result): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) if (!code.startsWith('2')) kinds[code] = count ?? 0;
  if (result.timeouts) kinds.timeouts = result.timeouts;
  if (result.errors - result.timeouts > 0) kinds.socket = result.errors - result.timeouts;
  return kinds;
}

async function http(durationS: number): Promise<LoadResult> {
  const h = spec!.http!;
  const result = await autocannon({
    url: h.url,
    connections: spec!.connections,
    duration: durationS,
    requests: [{ method: 'POST', path: h.path, headers: h.headers, setupRequest: (req) => ({ ...req, body: body() }) }],
  });
  const ok = result['2xx'];
  return {
    seconds: result.duration,
    requests: ok,
    readings: ok * (h.batchSize ?? 1),
    errors: result.non2xx + result.errors + result.timeouts,
    errorKinds: errorKinds(result),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
  };
}

/** Stream entries made once, so that the XADD baseline measures Redis and ioredis, not this process making readings. */
let entries: string[][] | null = null;

/** `connections` loops, each appending a pipeline of `batchSize` XADDs and waiting for it. */
async function xadd(durationS: number): Promise<LoadResult> {
  const x = spec!.xadd!;
  entries ??= Array.from({ length: 20_000 }, (_, i) => encodeReading(fleetReading(i, { nowMs }), nowMs));
  const pool = entries;
  const redis = new Redis(x.redisUrl);
  const start = performance.now();
  const end = start + durationS * 1000;
  let requests = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: spec!.connections }, async () => {
      while (performance.now() < end) {
        const pipeline = redis.pipeline();
        for (let k = 0; k < x.batchSize; k++) pipeline.xadd(x.stream, '*', ...pool[next++ % pool.length]!);
        const replies = (await pipeline.exec()) ?? [];
        if (replies.some(([err]) => err)) errors += 1;
        else requests += 1;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  redis.disconnect();
  return { seconds, requests, readings: requests * x.batchSize, errors, errorKinds: errors ? { redis: errors } : {}, latencyP50Ms: null, latencyP99Ms: null };
}

/** XREADGROUP COUNT n + XACK of what it read, until the group has nothing new. */
async function drain(): Promise<LoadResult> {
  const d = spec!.drain!;
  const redis = new Redis(d.redisUrl);
  const start = performance.now();
  let readings = 0;
  let requests = 0;
  for (;;) {
    const reply = (await redis.call('XREADGROUP', 'GROUP', d.group, 'plain', 'COUNT', d.count, 'STREAMS', d.stream, '>')) as
      | [string, [string, string[]][]][]
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) break;
    await redis.xack(d.stream, d.group, ...entries.map(([id]) => id));
    readings += entries.length;
    requests += 1;
  }
  const seconds = (performance.now() - start) / 1000;
  redis.disconnect();
  return { seconds, requests, readings, errors: 0, errorKinds: {}, latencyP50Ms: null, latencyP99Ms: null };
}

const run = (durationS: number) => (spec.http ? http(durationS) : spec.xadd ? xadd(durationS) : drain());
if (spec.warmupS > 0 && !spec.drain) await run(spec.warmupS);
emit({ event: 'start' });
const cpu0 = process.cpuUsage();
const result = await run(spec.durationS);
const cpu = process.cpuUsage(cpu0);
// Its own CPU, so that a run can show what the load generator took of the machine it shares.
emit({ event: 'end', ...result, cpuUs: cpu.user + cpu.system });
// A drain ends on its own when the group has nothing new; the bench then reads this process's CPU
// time from /proc, which is gone once the process has exited and been reaped. Stay a moment.
if (spec.drain) await new Promise((r) => setTimeout(r, 1_000));
