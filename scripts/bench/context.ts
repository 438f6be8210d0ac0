import type { RunningInflux } from './influx.js';
import type { LoadResult, LoadSpec } from './load-spec.js';
import type { Facts } from './report.js';
import { type AnyRedisTarget, clearStreams, redisCpuByNode, storedReadings, type RedisTarget } from './redis-target.js';
import { processCpuUs } from './process-cpu.js';
import { runLoad } from './services.js';

export interface BenchOptions {
  /** Rounds per suite; each round measures every side once, in alternating order. */
  rounds: number;
  /** Measured seconds per side and round. */
  durationS: number;
  /** Unmeasured seconds before each side. */
  warmupS: number;
  /** Readings pre-loaded for each drain. */
  drainReadings: number;
  /** HTTP connections for single-reading requests. */
  connections: number;
  /** HTTP connections (and XADD pipelines in flight) for batches. */
  batchConnections: number;
  /** Readings per batch. */
  batchSize: number;
}

export interface BenchContext {
  options: BenchOptions;
  target: RedisTarget;
  /** A private influxd, when InfluxDB 1.x is installed. */
  influx: RunningInflux | null;
  facts: Facts;
  /** The round being measured (0-based), set by runRounds. */
  round: number;
  /** Sets this round's value of a fact (see rows.ts); null: not measurable here. */
  record(name: string, value: number | null): void;
  log(line: string): void;
}

/** A context recording facts round by round (into `facts`), logging to the console. */
export function createContext(options: BenchOptions, target: RedisTarget, influx: RunningInflux | null, facts: Facts = {}): BenchContext {
  const ctx: BenchContext = {
    options,
    target,
    influx,
    facts,
    round: 0,
    record: (name, value) => {
      const list = facts[name] ?? [];
      while (list.length < ctx.round) list.push(null);
      list[ctx.round] = value;
      facts[name] = list;
    },
    log: (line) => console.log(line),
  };
  return ctx;
}

/** A group of measurements sharing set-up; it records facts, rows.ts turns them into ratios. */
export interface Suite {
  name: string;
  run(ctx: BenchContext): Promise<void>;
}

/** Rounds alternate the order of the sides, so that neither always runs first (or last). */
export function orderFor<T>(round: number, sides: T[]): T[] {
  return round % 2 === 0 ? sides : [...sides].reverse();
}

/**
 * Runs every side once per round, in alternating order. A side that fails (say, a service that
 * sheds load on an overloaded machine) is reported and leaves its facts empty for that round;
 * its rows then pair only the rounds where both sides were measured.
 */
export async function runRounds(ctx: BenchContext, sides: (() => Promise<void>)[]) {
  for (let round = 0; round < ctx.options.rounds; round++) {
    ctx.round = round;
    for (const side of orderFor(round, sides)) {
      try {
        await side();
      } catch (err) {
        ctx.log(`  a side failed in round ${round + 1}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
}

export interface Measured extends LoadResult {
  /** Readings (or requests, one reading each) per second. */
  rate: number;
  redisCpuUsPerReading: number;
  /** The same, node by node (the target's nodes() order). */
  redisCpuUsPerReadingByNode: number[];
  /** CPU time of the server process (`pid`) per reading; null without a pid. */
  serverCpuUsPerReading: number | null;
}

/**
 * Runs one load and returns it with the Redis CPU its measured part cost per reading stored
 * (readings added to `streams` while it ran, so that requests cut off at either end count on both
 * sides of the division) and the CPU time of the server process `pid` per reading; then deletes
 * what it wrote, so that every side starts from the same Redis. `target`: @default ctx.target
 */
export async function measureLoad(
  ctx: BenchContext,
  spec: LoadSpec,
  streams: string | readonly string[] | null,
  pid?: number,
  target: AnyRedisTarget = ctx.target,
): Promise<Measured> {
  const counters = async () => ({
    cpu: await redisCpuByNode(target),
    length: streams ? await storedReadings(target, streams) : 0,
    server: processCpuUs(pid),
  });
  const { load, atStart } = await runLoad(spec, counters);
  // Requests in flight when the load stopped still finish on the server.
  await new Promise((r) => setTimeout(r, 200));
  const atEnd = await counters();
  const stored = atEnd.length - atStart.length;
  if (streams) await clearStreams(target, typeof streams === 'string' ? [streams] : streams);
  if (load.errors > 0) ctx.log(`  warning: ${load.errors} failed requests ${JSON.stringify(load.errorKinds)}`);
  if (load.readings === 0) throw new Error(`no reading got through (${load.errors} failed requests)`);
  const readings = stored > 0 ? stored : load.readings;
  const server = atEnd.server !== null && atStart.server !== null ? (atEnd.server - atStart.server) / readings : null;
  return {
    ...load,
    rate: load.readings / load.seconds,
    redisCpuUsPerReading: atEnd.cpu.reduce((sum, cpu, i) => sum + cpu - atStart.cpu[i]!, 0) / readings,
    redisCpuUsPerReadingByNode: atEnd.cpu.map((cpu, i) => (cpu - atStart.cpu[i]!) / readings),
    serverCpuUsPerReading: server,
  };
}
