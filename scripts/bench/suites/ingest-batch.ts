import { measureLoad, runRounds, type BenchContext, type Suite } from '../context.js';
import type { LoadSpec } from '../load-spec.js';
import { BENCH_AUTH, startIngest } from '../services.js';

/**
 * Readings/s through POST /readings/batch (without and with reading_id), InfluxDB's batched
 * line-protocol writes, and pipelined XADDs of the same readings, all in batches of
 * `batchSize` at `batchConnections` in flight.
 * Facts: ingest.batch.rps, ingest.batch-ids.rps, influx.batch.rps, xadd.batch.rps,
 * redis.cpu.ingest-batch, redis.cpu.ingest-batch-ids, redis.cpu.xadd, and the CPU time of the
 * server process per reading: ingest.batch.cpu, ingest.batch-ids.cpu, influx.batch.cpu.
 */
export const ingestBatch: Suite = {
  name: 'ingest batch',
  async run(ctx: BenchContext) {
    const { target, influx, options: o } = ctx;
    const stream = 'bench-batch';
    const ingest = await startIngest(target.url, stream);
    const base = { connections: o.batchConnections, durationS: o.durationS, warmupS: o.warmupS };
    const batch = (readingIds: boolean): LoadSpec => ({
      ...base,
      http: {
        url: ingest.url,
        path: '/readings/batch',
        headers: { ...BENCH_AUTH, 'content-type': 'application/json' },
        body: 'batch',
        batchSize: o.batchSize,
        readingIds,
      },
    });
    const sides = [
      async () => {
        const r = await measureLoad(ctx, batch(false), stream, ingest.pid);
        ctx.record('ingest.batch.rps', r.rate);
        ctx.record('ingest.batch.cpu', r.serverCpuUsPerReading);
        ctx.record('redis.cpu.ingest-batch', r.redisCpuUsPerReading);
        ctx.log(`  ingest POST /readings/batch: ${Math.round(r.rate)} readings/s, ${r.redisCpuUsPerReading.toFixed(1)} µs Redis CPU/reading`);
      },
      async () => {
        const r = await measureLoad(ctx, batch(true), stream, ingest.pid);
        ctx.record('ingest.batch-ids.rps', r.rate);
        ctx.record('ingest.batch-ids.cpu', r.serverCpuUsPerReading);
        ctx.record('redis.cpu.ingest-batch-ids', r.redisCpuUsPerReading);
        ctx.log(`  ingest batch with reading_id: ${Math.round(r.rate)} readings/s, ${r.redisCpuUsPerReading.toFixed(1)} µs Redis CPU/reading`);
      },
      async () => {
        const r = await measureLoad(ctx, { ...base, xadd: { redisUrl: target.url, stream, batchSize: o.batchSize } }, stream);
        ctx.record('xadd.batch.rps', r.rate);
        ctx.record('redis.cpu.xadd', r.redisCpuUsPerReading);
        ctx.log(`  pipelined XADD: ${Math.round(r.rate)} readings/s, ${r.redisCpuUsPerReading.toFixed(1)} µs Redis CPU/reading`);
      },
      ...(influx
        ? [
            async () => {
              const spec: LoadSpec = {
                ...base,
                http: { url: influx.url, path: `/write?db=${influx.db}&precision=u`, headers: {}, body: 'influx', batchSize: o.batchSize },
              };
              const r = await measureLoad(ctx, spec, null, influx.pid);
              ctx.record('influx.batch.rps', r.rate);
              ctx.record('influx.batch.cpu', r.serverCpuUsPerReading);
              ctx.log(`  InfluxDB batched writes: ${Math.round(r.rate)} points/s`);
            },
          ]
        : []),
    ];
    try {
      await runRounds(ctx, sides);
    } finally {
      await ingest.stop();
    }
  },
};
