import { spawnTs } from '../../lib/spawn-service.js';
import { appendBatchEntries, appendReadings, fleetReadings, gatewayReadings } from '../../lib/readings.js';
import { runRounds, type BenchContext, type Suite } from '../context.js';
import { watchDrain } from '../drain.js';
import type { LoadSpec } from '../load-spec.js';
import { processCpuUs } from '../process-cpu.js';
import { clearStreams, redisCpuUs } from '../redis-target.js';
import { startProcessor, track } from '../services.js';

/** The processor's XREADGROUP COUNT, so that the plain loop reads the same batches. */
const READ_COUNT = 200;

/**
 * Pre-loaded readings drained by the real processor (its own process, default settings) and by a
 * plain XREADGROUP + XACK loop (its own process), timed alike from outside:
 * - the processor on gateway batches stored as ingest's batch route stores them, one entry per
 *   batch (facts process.drain.*, redis.cpu.apply);
 * - the processor on single-reading entries whose devices take turns, as a foreign producer
 *   writes them, one reading per entry (process.drain-single.*, redis.cpu.apply-single);
 * - the plain loop on the gateway readings, one per entry: the least a stream can cost per
 *   reading (plain.drain.*, redis.cpu.plain-drain).
 * The consumers' own CPU time per reading: *.cpu.
 */
export const drain: Suite = {
  name: 'processor drain',
  async run(ctx: BenchContext) {
    const { target, options: o } = ctx;
    const stream = 'bench-drain';
    const total = o.drainReadings;
    const gateway = gatewayReadings(total, { batch: o.batchSize });
    const loadSingle = (readings = gateway) => async () => {
      await appendReadings(target.client, stream, readings);
      return { entries: readings.length, perEntry: 1 };
    };
    const loadBatches = async () => ({
      entries: (await appendBatchEntries(target.client, stream, gateway, o.batchSize)).length,
      perEntry: o.batchSize,
    });

    const timed = async (
      load: () => Promise<{ entries: number; perEntry: number }>,
      start: () => Promise<{ pid: number | undefined; stop(): Promise<void> }>,
      group: string,
    ) => {
      const { entries, perEntry } = await load();
      const cpu0 = await redisCpuUs(target);
      const running = await start();
      // The consumer's CPU from its first acknowledgement on, leaving its start-up out.
      let own0: number | null = null;
      let own1: number | null = null;
      let cpu = 0;
      let timing: Awaited<ReturnType<typeof watchDrain>>;
      try {
        timing = await watchDrain(target.client, stream, group, entries, () => {
          own0 = processCpuUs(running.pid);
        });
        own1 = processCpuUs(running.pid);
        cpu = (await redisCpuUs(target)) - cpu0;
      } finally {
        await running.stop();
        await clearStreams(target, [stream]);
      }
      const ownCpu = own0 !== null && own1 !== null ? (own1 - own0) / (timing.acked * perEntry) : null;
      return { rate: (timing.acked * perEntry) / timing.seconds, cpuPerReading: cpu / total, ownCpuPerReading: ownCpu };
    };

    const sides = [
      async () => {
        const group = 'bench-processor';
        const r = await timed(loadBatches, () => startProcessor(target.url, stream, group, { READ_COUNT: String(READ_COUNT) }), group);
        ctx.record('process.drain.rps', r.rate);
        ctx.record('process.drain.cpu', r.ownCpuPerReading);
        ctx.record('redis.cpu.apply', r.cpuPerReading);
        ctx.log(`  processor, batch entries: ${Math.round(r.rate)} readings/s, ${r.cpuPerReading.toFixed(1)} µs Redis CPU/reading`);
      },
      async () => {
        const group = 'bench-processor-single';
        const r = await timed(loadSingle(fleetReadings(total)), () => startProcessor(target.url, stream, group, { READ_COUNT: String(READ_COUNT) }), group);
        ctx.record('process.drain-single.rps', r.rate);
        ctx.record('process.drain-single.cpu', r.ownCpuPerReading);
        ctx.record('redis.cpu.apply-single', r.cpuPerReading);
        ctx.log(`  processor, single-reading entries: ${Math.round(r.rate)} readings/s, ${r.cpuPerReading.toFixed(1)} µs Redis CPU/reading`);
      },
      async () => {
        const group = 'bench-plain';
        const r = await timed(loadSingle(), async () => {
          await target.client.xgroup('CREATE', stream, group, '0');
          const spec: LoadSpec = { connections: 1, durationS: 0, warmupS: 0, drain: { redisUrl: target.url, stream, group, count: READ_COUNT } };
          const proc = track(spawnTs('scripts/bench/load.ts', { BENCH_LOAD: JSON.stringify(spec) }));
          return {
            pid: proc.child.pid,
            async stop() {
              if ((await proc.exit) !== 0) throw new Error(`plain drain failed: ${proc.output()}`);
            },
          };
        }, group);
        ctx.record('plain.drain.rps', r.rate);
        ctx.record('plain.drain.cpu', r.ownCpuPerReading);
        ctx.record('redis.cpu.plain-drain', r.cpuPerReading);
        ctx.log(`  XREADGROUP + XACK: ${Math.round(r.rate)} readings/s, ${r.cpuPerReading.toFixed(1)} µs Redis CPU/reading`);
      },
    ];
    await runRounds(ctx, sides);
  },
};
