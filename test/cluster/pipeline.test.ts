/**
 * The whole pipeline on a real Redis Cluster (issue 11): ingest and processors with the Cluster
 * client, the stream split into 6 shards spread over 3 masters, consumers killed as in the fault
 * tests, and a master killed mid-run with its replica taking over. Every reading that got a 2xx
 * must be counted exactly once: the ledger check of process/test/faults.test.ts, shard by shard.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { EnergyPipelineClient, type TailEvent } from '@energy-pipeline/client';
import type { Reading } from '@energy-pipeline/contract';
import { ingestKeys, layoutKey, redisKeys, shardOf, shardStreams, siteKeys } from '@energy-pipeline/server-kit';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { ingestConfig } from '../support/ingest-app.js';
import { processApp, processConfig } from '../support/process-app.js';
import { expectLedgerApplied, ledgerReadings, random, sendLedger } from '../support/ledger-run.js';
import { startRedisCluster, type TestCluster } from '../../scripts/lib/redis-cluster.js';
import { eventually, freePort } from '../../scripts/lib/redis-server.js';
import { spawnService } from '../../scripts/lib/spawn-service.js';
import { churnConsumers } from '../support/consumer-churn.js';

const STREAM = 'cluster_readings';
const GROUP = 'cluster_group';
const SHARDS = 6;
const streams = shardStreams(STREAM, SHARDS);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** What both services get to use the cluster: the seed nodes, the shards, the stream and group. */
const clusterEnv = (cluster: TestCluster) => ({
  REDIS_CLUSTER_NODES: cluster.seedNodes,
  STREAM_SHARDS: String(SHARDS),
  REDIS_STREAM: STREAM,
  CONSUMER_GROUP: GROUP,
  AUTH_DISABLED: 'true',
});

/** A processor as a separate process (so it can be killed), with short intervals to keep the test quick. */
const consumerEnv = (cluster: TestCluster, name: string, extra: Record<string, string> = {}) => ({
  ...clusterEnv(cluster),
  CONSUMER_NAME: name,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  READ_COUNT: '50',
  READ_BLOCK_MS: '200',
  CLAIM_MIN_IDLE_MS: '1500',
  CLAIM_INTERVAL_MS: '300',
  TRIM_INTERVAL_MS: '500',
  LIVE_RETENTION_S: '0', // trim as soon as entries are acknowledged, to trim during the kills
  ...extra,
});

async function startIngest(cluster: TestCluster, env: Record<string, string> = {}) {
  // REDIS_URL only names the scheme here: the seed nodes say where the cluster is.
  const ingest = buildIngestApp(ingestConfig('redis://127.0.0.1:1', { ...clusterEnv(cluster), ...env }));
  cleanups.push(() => ingest.close());
  await ingest.ready();
  return ingest;
}

function startConsumers(cluster: TestCluster, names: string[], extra: Record<string, string> = {}) {
  const consumers = names.map((name) => spawnService('process', consumerEnv(cluster, name, extra)));
  cleanups.push(async () => {
    for (const c of consumers) c.child.kill('SIGKILL');
  });
  return consumers;
}

describe('3 masters, 6 shards', () => {
  let cluster: TestCluster;
  afterEach(async () => cluster?.stop());

  it('spreads the shards over every master, each shard\'s keys in one slot, and counts every accepted reading once while consumers are killed', { timeout: 300_000 }, async () => {
    cluster = await startRedisCluster({ masters: 3 });

    // Where the shards live, as the servers themselves say (CLUSTER KEYSLOT, CLUSTER NODES).
    const owners = new Map<number, string>();
    for (const [shard, stream] of streams.entries()) {
      const slot = await cluster.keySlot(stream);
      const keys = redisKeys({ stream, group: GROUP });
      const beside = [keys.stats, keys.sites, keys.deadLetters, keys.site('site-1'), keys.deviceBucket('hour', 'site-1', 'd', 0), ingestKeys(stream).dedupe, siteKeys(stream).zones];
      for (const key of beside) expect(await cluster.keySlot(key), key).toBe(slot);
      owners.set(shard, (await cluster.nodeForSlot(slot)).address);
    }
    const masters = (await cluster.masters()).map((m) => m.address);
    expect(new Set(owners.values())).toEqual(new Set(masters));
    // Two shards per master: the work divides evenly.
    for (const m of masters) expect([...owners.values()].filter((a) => a === m)).toHaveLength(2);

    const ingest = await startIngest(cluster);
    const rand = random(17);
    // Consumers killed and replaced every 400-800 ms while the readings flow.
    const churn = churnConsumers({ env: (name) => consumerEnv(cluster, name), rand, pauseMs: [400, 400] });
    cleanups.push(() => churn.close());

    // A live view on its own processor (no worker): the tail over every shard, one XREAD per shard.
    const livePort = await freePort();
    const live = processApp(processConfig('redis://127.0.0.1:1', { ...clusterEnv(cluster), CONSUMER_NAME: 'live', LIVE_INTERVAL_MS: '200' }));
    cleanups.push(() => live.close());
    await live.listen({ host: '127.0.0.1', port: livePort });
    const tail: TailEvent[] = [];
    const stopTail = new AbortController();
    cleanups.push(async () => stopTail.abort());
    const sdk = new EnergyPipelineClient({ ingestUrl: 'http://127.0.0.1:1', processUrl: `http://127.0.0.1:${livePort}` });
    void (async () => {
      for await (const e of sdk.watch.tail({}, { signal: stopTail.signal })) tail.push(e.data);
    })().catch(() => {});
    await eventually(() => live.live.counts.tail === 1, 10_000, 50);

    // 30 sites, so that every shard has some.
    const readings = ledgerReadings(6_000, rand, 30);
    expect(new Set(readings.map((r) => shardOf(r.site_id, SHARDS))).size).toBe(SHARDS);
    const ledger = await sendLedger(ingest, readings, { batchSize: 300, pauseMs: 100, shards: SHARDS });
    await new Promise((r) => setTimeout(r, 1_500)); // keep killing while the backlog drains
    await churn.stop();

    expect(ledger).toHaveLength(readings.length);
    expect(churn.kills).toBeGreaterThanOrEqual(5);
    expect(await cluster.client.hget(layoutKey(STREAM), 'shards')).toBe(String(SHARDS));
    await expectLedgerApplied(cluster.client, ledger, processConfig('redis://127.0.0.1:1').consumer.retention, { streams, group: GROUP });
    // Every master holds readings: the writes divided over the nodes.
    for (const m of masters) expect(await cluster.nodeClient(m).dbsize()).toBeGreaterThan(0);
    // The live tail saw readings of every shard, through one blocking read per shard.
    const seen = await eventually(() => {
      const shards = new Set(tail.flatMap((e) => (e.type === 'readings' ? e.readings.map((r) => r.shard) : [])));
      return shards.size === SHARDS ? shards : null;
    }, 20_000, 100);
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('failover', () => {
  let cluster: TestCluster;
  afterEach(async () => cluster?.stop());

  it('a master killed mid-run: its replica takes over, the running services resume without a restart, and with WRITE_REPLICAS=1 no accepted reading is lost', { timeout: 300_000 }, async () => {
    cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1_000, appendonly: true });
    const ingest: FastifyInstance = await startIngest(cluster, { WRITE_REPLICAS: '1', REDIS_COMMAND_TIMEOUT_MS: '1000' });
    // Nothing trimmed: the ledger looks up the entries of repeats (resent after a 503 `unknown`).
    const consumers = startConsumers(cluster, ['f-0', 'f-1'], { LIVE_RETENTION_S: '3600' });
    const rand = random(23);
    const readings = ledgerReadings(6_000, rand, 30);

    // The master is killed a third of the way through: readings keep coming through the failover.
    let accepted = 0;
    const sending = sendLedger(ingest, readings, { batchSize: 100, pauseMs: 50, shards: SHARDS, onProgress: (n) => (accepted = n) });
    await eventually(() => accepted >= 2_000, 60_000, 20);
    const killedAt = Date.now();
    const killed = await cluster.killMaster(1);
    const onKilledShards: number[] = [];
    for (const [shard, stream] of streams.entries()) {
      const slot = await cluster.keySlot(stream);
      if (killed.slots.some(([lo, hi]) => lo <= slot && slot <= hi)) onKilledShards.push(shard);
    }
    expect(onKilledShards.length).toBeGreaterThan(0);
    const sites = Array.from({ length: 100 }, (_, i) => `probe-${i}`);
    const deadSite = sites.find((s) => onKilledShards.includes(shardOf(s, SHARDS)))!;
    const liveSite = sites.find((s) => !onKilledShards.includes(shardOf(s, SHARDS)))!;
    // Probe readings may be stored (a 503 `unknown`): they are resent with the rest at the end.
    const probes: Reading[] = [];
    const post = async (site_id: string) => {
      const reading = { site_id, device_id: 'probe', power_reading: 1, timestamp: new Date().toISOString(), seq: probes.length + 1 };
      probes.push(reading);
      return ingest.inject({ method: 'POST', url: '/readings', payload: reading });
    };

    // While the dead master's shards refuse writes, the other masters' shards take them.
    const refused = await post(deadSite);
    expect(refused.statusCode, refused.body).toBe(503);
    expect((await post(liveSite)).statusCode).toBe(202);

    const promoted = await cluster.waitForFailover(killed);
    expect(promoted.address).not.toBe(killed.address);
    expect(accepted).toBeLessThan(readings.length);
    // The promoted replica has no replica of its own: its shards' writes are stored but cannot
    // be confirmed by one (WAIT), so they get 503 `unknown` and are resent, until the dead node
    // comes back, as Kubernetes would restart it, now as the new master's replica.
    await eventually(async () => {
      const r = await post(deadSite);
      expect(r.statusCode, r.body).toBe(503);
      return r.json().outcome === 'unknown';
    }, 20_000, 100);
    await cluster.restartNode(killed);
    const ledger = [...(await sending), ...(await sendLedger(ingest, probes, { batchSize: 100, pauseMs: 0, shards: SHARDS }))];


    expect(ledger).toHaveLength(readings.length + probes.length);
    await expectLedgerApplied(cluster.client, ledger, processConfig('redis://127.0.0.1:1').consumer.retention, { streams, group: GROUP });
    // The same processes did it: none exited, none was restarted.
    for (const c of consumers) expect(c.child.exitCode).toBeNull();
    // Readings sent after the failover reached the shards the killed master served, on its replica.
    for (const stream of onKilledShards.map((shard) => streams[shard]!)) {
      const [last] = await cluster.client.xrevrange(stream, '+', '-', 'COUNT', 1);
      expect(Number(last![0].split('-')[0])).toBeGreaterThan(killedAt);
    }
  });
});
