import { keySlot, shardStreams } from '@energy-pipeline/server-kit';
import { measureLoad, runRounds, type BenchContext, type Suite } from '../context.js';
import { watchDrain } from '../drain.js';
import { processCpuUs } from '../process-cpu.js';
import { type AnyRedisTarget, clearStreams, openClusterTarget, openRedisTarget, redisCpuByNode } from '../redis-target.js';
import { BENCH_AUTH, startIngest, startProcessor } from '../services.js';

/** Shards of the stream, on both sides: two per master, as the chart's cluster example has it. */
export const SPREAD_SHARDS = 6;
/** Masters of the cluster side. */
export const SPREAD_MASTERS = 3;
/** Seconds the nodes are watched doing nothing before each side. */
const IDLE_S = 2;

const share = (perNode: number[]) => {
  const total = perNode.reduce((a, b) => a + b, 0);
  return perNode.map((x) => (total > 0 ? x / total : 0));
};
const percent = (xs: number[]) => xs.map((x) => `${Math.round(x * 100)}%`).join(' / ');

/**
 * The same work on one redis-server and on a 3-master Redis Cluster, the stream split into 6
 * shards on both: gateway batches through ingest (the real service, with the Cluster client on
 * the cluster side), then the real processor draining what was stored. Redis CPU is read from
 * INFO cpu on every master before and after each step. On a 2-core machine the cluster cannot
 * be faster; what this shows is how the work divides over the masters and what a reading costs
 * each of them compared with the single node, which is what sizing a cluster needs.
 * Facts, for `<side>` single and cluster: spread.<side>.ingest.rps, spread.<side>.drain.rps,
 * spread.<side>.redis.cpu.ingest, spread.<side>.redis.cpu.apply (µs per reading, summed over
 * nodes), spread.<side>.redis.cpu.idle (µs per second doing nothing, summed over nodes),
 * spread.<side>.ingest.cpu and spread.<side>.process.cpu (the services' own CPU per reading); cluster only: spread.cluster.redis.cpu.node<i> (ingest + apply on master i),
 * spread.cluster.redis.cpu.busiest / .idlest, spread.cluster.share.node<i> (its part of the total).
 */
export const clusterSpread: Suite = {
  name: 'cluster spread',
  async run(ctx: BenchContext) {
    const o = ctx.options;
    const stream = 'bench-spread';
    const streams = shardStreams(stream, SPREAD_SHARDS);
    const single = await openRedisTarget(null);
    const cluster = await openClusterTarget(SPREAD_MASTERS).catch(async (err) => {
      await single.stop();
      throw err;
    });
    ctx.log(`  ${cluster.description}; shards on masters ${await shardHomes(cluster, streams)}`);

    const measure = async (side: 'single' | 'cluster', target: AnyRedisTarget) => {
      const env = { ...target.env, STREAM_SHARDS: String(SPREAD_SHARDS) };
      // What the nodes cost doing nothing (server cron, and on a cluster the bus's pings), so
      // that a per-reading figure from a slower run can be told apart from a dearer reading.
      const idle0 = await redisCpuByNode(target);
      await new Promise((r) => setTimeout(r, IDLE_S * 1000));
      const idle = (await redisCpuByNode(target)).reduce((sum, x, i) => sum + x - idle0[i]!, 0) / IDLE_S;
      const ingest = await startIngest(target.url, stream, env);
      let ingestCpu: number[];
      let ingested: Awaited<ReturnType<typeof measureLoad>>;
      try {
        const spec = {
          connections: o.batchConnections,
          durationS: o.durationS,
          warmupS: o.warmupS,
          http: {
            url: ingest.url,
            path: '/readings/batch',
            headers: { ...BENCH_AUTH, 'content-type': 'application/json' },
            body: 'batch' as const,
            batchSize: o.batchSize,
          },
        };
        // Streams null: what the load stored stays for the processor to drain.
        ingested = await measureLoad(ctx, spec, null, ingest.pid, target);
        ingestCpu = ingested.redisCpuUsPerReadingByNode;
      } finally {
        await ingest.stop();
      }
      // Every entry ingest stored, warm-up included: the processor drains them all.
      const entries = (await Promise.all(streams.map((s) => target.client.xlen(s)))).reduce((a, b) => a + b, 0);
      const group = 'bench-spread';
      const cpu0 = await redisCpuByNode(target);
      const processor = await startProcessor(target.url, stream, group, env);
      let applyCpu: number[];
      let timing: Awaited<ReturnType<typeof watchDrain>>;
      let own0: number | null = null;
      let own1: number | null = null;
      try {
        timing = await watchDrain(target.client, streams, group, entries, () => {
          own0 = processCpuUs(processor.pid);
        });
        own1 = processCpuUs(processor.pid);
        applyCpu = (await redisCpuByNode(target)).map((x, i) => x - cpu0[i]!);
      } finally {
        await processor.stop();
        await clearStreams(target, streams);
      }
      const readings = entries * o.batchSize;
      const applyPerReading = applyCpu.map((x) => x / readings);
      const perNode = applyPerReading.map((x, i) => x + ingestCpu[i]!);
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      ctx.record(`spread.${side}.ingest.rps`, ingested.rate);
      ctx.record(`spread.${side}.drain.rps`, (timing.acked * o.batchSize) / timing.seconds);
      ctx.record(`spread.${side}.redis.cpu.ingest`, sum(ingestCpu));
      ctx.record(`spread.${side}.redis.cpu.apply`, sum(applyPerReading));
      ctx.record(`spread.${side}.redis.cpu.idle`, idle);
      ctx.record(`spread.${side}.ingest.cpu`, ingested.serverCpuUsPerReading);
      ctx.record(`spread.${side}.process.cpu`, own0 !== null && own1 !== null ? (own1 - own0) / (timing.acked * o.batchSize) : null);
      ctx.log(
        `  ${side}: ingest ${Math.round(ingested.rate)} readings/s, drain ${Math.round((timing.acked * o.batchSize) / timing.seconds)} readings/s; ` +
          `Redis CPU/reading ${sum(perNode).toFixed(1)} µs` +
          ` (idle: ${Math.round(idle)} µs/s)` +
          (side === 'cluster' ? ` = ${perNode.map((x) => x.toFixed(1)).join(' + ')} (${percent(share(perNode))})` : ''),
      );
      if (side === 'cluster') {
        for (const [i, x] of perNode.entries()) ctx.record(`spread.cluster.redis.cpu.node${i}`, x);
        for (const [i, x] of share(perNode).entries()) ctx.record(`spread.cluster.share.node${i}`, x);
        ctx.record('spread.cluster.redis.cpu.busiest', Math.max(...perNode));
        ctx.record('spread.cluster.redis.cpu.idlest', Math.min(...perNode));
      }
    };

    try {
      await runRounds(ctx, [() => measure('single', single), () => measure('cluster', cluster)]);
    } finally {
      await Promise.allSettled([single.stop(), cluster.stop()]);
    }
  },
};

/** Which master (index in nodes()) serves each shard stream, e.g. "0 0 1 1 2 2", from CLUSTER SLOTS. */
async function shardHomes(target: AnyRedisTarget, streams: readonly string[]): Promise<string> {
  const nodes = target.nodes();
  const slots = (await nodes[0]!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
  const homeOf = (slot: number) => {
    const range = slots.find(([from, to]) => from <= slot && slot <= to);
    return range ? nodes.findIndex((n) => n.options.port === Number(range[2][1])) : -1;
  };
  return streams.map((s) => homeOf(keySlot(s))).join(' ');
}
