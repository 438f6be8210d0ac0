import { spawnTs } from '../../../test/support/spawn-service.js';
import { appendReadings, fleetReadings } from '../../../test/support/readings.js';
import { runRounds, type BenchContext, type Suite } from '../context.js';
import { watchDrain } from '../drain.js';
import type { LoadSpec } from '../load-spec.js';
import { processCpuUs } from '../process-cpu.js';
import { clearStreams, redisCpuUs } from '../redis-target.js';
import { startProcessor, track } from '../services.js';

/** The processor's XREADGROUP COUNT, so that the plain loop reads the same batches. */
const READ_COUNT = 200;

/**
 * The same pre-loaded readings drained by the real processor (its own process, default
 * settings) and by a plain XREADGROUP + XACK loop (its own process), timed alike from outside.
 * Facts: process.drain.rps, plain.drain.rps, redis.cpu.apply, redis.cpu.plain-drain, and the
 * consumers' own CPU time per reading: process.drain.cpu, plain.drain.cpu.
 */
export const drain: Suite = {
  name: 'processor drain',
  async run(ctx: BenchContext) {
    const { target, options: o } = ctx;
    const stream = 'bench-drain';
    const readings = fleetReadings(o.drainReadings);
    const total = readings.length;

    const timed = async (start: () => Promise<{ pid: number | undefined; stop(): Promise<void> }>, group: string) => {
      await appendReadings(target.client, stream, readings);
      const cpu0 = await redisCpuUs(target);
      const running = await start();
      // The consumer's CPU from its first acknowledgement on, leaving its start-up out.
      let own0: number | null = null;
      let own1: number | null = null;
      let cpu = 0;
      let timing: Awaited<ReturnType<typeof watchDrain>>;
      try {
        timing = await watchDrain(target.client, stream, group, total, () => {
          own0 = processCpuUs(running.pid);
        });
        own1 = processCpuUs(running.pid);
        cpu = (await redisCpuUs(target)) - cpu0;
      } finally {
        await running.stop();
        await clearStreams(target, [stream]);
      }
      const ownCpu = own0 !== null && own1 !== null ? (own1 - own0) / timing.acked : null;
      return { rate: timing.acked / timing.seconds, cpuPerReading: cpu / total, ownCpuPerReading: ownCpu };
    };

    const sides = [
      async () => {
        const group = 'bench-processor';
        const r = await timed(() => startProcessor(target.url, stream, group, { READ_COUNT: String(READ_COUNT) }), group);
        ctx.record('process.drain.rps', r.rate);
        ctx.record('process.drain.cpu', r.ownCpuPerReading);
        ctx.record('redis.cpu.apply', r.cpuPerReading);
        ctx.log(`  processor: ${Math.round(r.rate)} readings/s, ${r.cpuPerReading.toFixed(1)} µs Redis CPU/reading`);
      },
      async () => {
        const group = 'bench-plain';
        const r = await timed(async () => {
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
