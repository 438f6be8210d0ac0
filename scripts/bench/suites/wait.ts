import { eventually, startRedisServer } from '../../lib/redis-server.js';
import { measureLoad, runRounds, type BenchContext, type Suite } from '../context.js';
import type { LoadSpec } from '../load-spec.js';
import { openRedisTarget } from '../redis-target.js';
import { BENCH_AUTH, startIngest } from '../services.js';

/**
 * What WRITE_REPLICAS=1 costs ingest: a private redis-server with one replica (on the same
 * machine, so the round trip to it is a loopback one: the floor of what a network adds), and two
 * ingest processes on it, one answering only once the replica has the write (WAIT 1) and one not.
 * Gateway batches as in the batch suite, so one WAIT covers a batch.
 * Facts: wait.on.rps, wait.off.rps, wait.on.p99, wait.off.p99 (ms), wait.on.cpu, wait.off.cpu
 * (ingest's CPU per reading), wait.on.redis.cpu, wait.off.redis.cpu (the master's, per reading).
 */
export const waitCost: Suite = {
  name: 'WAIT cost',
  async run(ctx: BenchContext) {
    const o = ctx.options;
    const master = await openRedisTarget(null);
    const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(new URL(master.url).port)] });
    const stream = 'bench-wait';
    try {
      await eventually(async () => (await replica.client.info('replication')).includes('master_link_status:up'), 15_000);
      const on = await startIngest(master.url, stream, { WRITE_REPLICAS: '1' });
      const off = await startIngest(master.url, stream, { WRITE_REPLICAS: '0' });
      const spec = (url: string): LoadSpec => ({
        connections: o.batchConnections,
        durationS: o.durationS,
        warmupS: o.warmupS,
        http: { url, path: '/readings/batch', headers: { ...BENCH_AUTH, 'content-type': 'application/json' }, body: 'batch', batchSize: o.batchSize },
      });
      const side = (name: 'on' | 'off', ingest: typeof on) => async () => {
        const r = await measureLoad(ctx, spec(ingest.url), stream, ingest.pid, master);
        ctx.record(`wait.${name}.rps`, r.rate);
        ctx.record(`wait.${name}.p99`, r.latencyP99Ms);
        ctx.record(`wait.${name}.cpu`, r.serverCpuUsPerReading);
        ctx.record(`wait.${name}.redis.cpu`, r.redisCpuUsPerReading);
        ctx.log(`  WRITE_REPLICAS=${name === 'on' ? 1 : 0}: ${Math.round(r.rate)} readings/s, p99 ${r.latencyP99Ms} ms per batch`);
      };
      try {
        await runRounds(ctx, [side('on', on), side('off', off)]);
      } finally {
        await Promise.all([on.stop(), off.stop()]);
      }
    } finally {
      await Promise.allSettled([replica.stop(), master.stop()]);
    }
  },
};
