import { measureLoad, runRounds, type BenchContext, type Suite } from '../context.js';
import type { LoadSpec } from '../load-spec.js';
import { BENCH_AUTH, startBaselineApp, startIngest } from '../services.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * POST /readings, one reading per request over real HTTP from a separate process, against the
 * one-XADD ts-rest route, and InfluxDB's single-point writes for reference.
 * Facts: ingest.single.rps, baseline.single.rps, influx.single.rps, redis.cpu.ingest-single, and
 * the CPU time of each server process per request: ingest.single.cpu, baseline.single.cpu, influx.single.cpu.
 */
export const ingestSingle: Suite = {
  name: 'ingest single',
  async run(ctx: BenchContext) {
    const { target, influx, options: o } = ctx;
    const ingest = await startIngest(target.url, 'bench-single');
    const baseline = await startBaselineApp(target.url, 'bench-baseline');
    const load = (url: string, path: string, headers: Record<string, string>, body: 'reading' | 'influx'): LoadSpec => ({
      connections: o.connections,
      durationS: o.durationS,
      warmupS: o.warmupS,
      http: { url, path, headers, body },
    });
    const sides = [
      async () => {
        const r = await measureLoad(ctx, load(ingest.url, '/readings', { ...BENCH_AUTH, ...JSON_HEADERS }, 'reading'), 'bench-single', ingest.pid);
        ctx.record('ingest.single.rps', r.rate);
        ctx.record('ingest.single.cpu', r.serverCpuUsPerReading);
        ctx.record('redis.cpu.ingest-single', r.redisCpuUsPerReading);
        ctx.log(`  ingest POST /readings: ${Math.round(r.rate)} req/s, p99 ${r.latencyP99Ms} ms`);
      },
      async () => {
        const r = await measureLoad(ctx, load(baseline.url, '/readings', JSON_HEADERS, 'reading'), 'bench-baseline', baseline.pid);
        ctx.record('baseline.single.rps', r.rate);
        ctx.record('baseline.single.cpu', r.serverCpuUsPerReading);
        ctx.log(`  one-XADD route: ${Math.round(r.rate)} req/s, p99 ${r.latencyP99Ms} ms`);
      },
      ...(influx
        ? [
            async () => {
              const r = await measureLoad(ctx, load(influx.url, `/write?db=${influx.db}&precision=u`, {}, 'influx'), null, influx.pid);
              ctx.record('influx.single.rps', r.rate);
              ctx.record('influx.single.cpu', r.serverCpuUsPerReading);
              ctx.log(`  InfluxDB single-point writes: ${Math.round(r.rate)} req/s`);
            },
          ]
        : []),
    ];
    try {
      await runRounds(ctx, sides);
    } finally {
      await Promise.all([ingest.stop(), baseline.stop()]);
    }
  },
};
