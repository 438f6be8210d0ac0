import { type Cluster, Redis } from 'ioredis';
import { escapeGlob, hashTag } from '@energy-pipeline/server-kit';
import { startRedisCluster } from '../lib/redis-cluster.js';
import { startRedisServer, type TestRedis } from '../lib/redis-server.js';

export interface CommandStat {
  calls: number;
  usec: number;
}

/**
 * The Redis the bench measures against: a private redis-server it starts (the default), an
 * existing one at `--redis-url`, or a private Redis Cluster (openClusterTarget), whose figures
 * are summed over its masters (`nodes()`).
 */
export interface RedisTarget<C extends Redis | Cluster = Redis> {
  /** What the services get as REDIS_URL. */
  url: string;
  /** More environment the services need to reach it, e.g. REDIS_CLUSTER_NODES. */
  env: Record<string, string>;
  /** For set-up, INFO and clean-up (a Cluster client routes by key). */
  client: C;
  /** Shown in the report, e.g. "private redis-server 7.0.15". */
  description: string;
  /** True when the bench started this server (it may then flush it and reset its statistics). */
  private: boolean;
  /** A client of every master whose INFO counts, in slot order on a cluster. */
  nodes(): Redis[];
  stop(): Promise<void>;
}

const info = async (redis: Redis, section: string) => {
  const out = new Map<string, string>();
  for (const line of (await redis.info(section)).split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
};

/** A target of either kind, for the functions that need only what both have. */
export type AnyRedisTarget = RedisTarget<Redis | Cluster>;

/** Redis CPU time (user + system, all threads) so far, in µs, per node of the target (nodes() order). */
export async function redisCpuByNode(target: Pick<AnyRedisTarget, 'nodes'>): Promise<number[]> {
  return Promise.all(
    target.nodes().map(async (node) => {
      const cpu = await info(node, 'cpu');
      return (Number(cpu.get('used_cpu_user')) + Number(cpu.get('used_cpu_sys'))) * 1e6;
    }),
  );
}

/** Redis CPU time (user + system, all threads) so far, in µs, summed over the target's nodes. */
export async function redisCpuUs(target: Pick<AnyRedisTarget, 'nodes'>): Promise<number> {
  return (await redisCpuByNode(target)).reduce((a, b) => a + b, 0);
}

/** INFO memory used_memory (bytes), per node of the target. */
export async function usedMemoryByNode(target: AnyRedisTarget): Promise<number[]> {
  return Promise.all(target.nodes().map(async (node) => Number((await info(node, 'memory')).get('used_memory'))));
}

/** INFO commandstats summed over the target's nodes: command name → calls and µs. */
export async function commandStats(target: AnyRedisTarget): Promise<Map<string, CommandStat>> {
  const out = new Map<string, CommandStat>();
  for (const node of target.nodes()) {
    for (const [key, value] of await info(node, 'commandstats')) {
      const fields = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]));
      const name = key.replace(/^cmdstat_/, '');
      const prev = out.get(name) ?? { calls: 0, usec: 0 };
      out.set(name, { calls: prev.calls + Number(fields.calls), usec: prev.usec + Number(fields.usec) });
    }
  }
  return out;
}

/** What happened between two commandstats snapshots (RESETSTAT is not needed, nor safe on a shared server). */
export function commandStatsDelta(before: Map<string, CommandStat>, after: Map<string, CommandStat>): Map<string, CommandStat> {
  const out = new Map<string, CommandStat>();
  for (const [name, a] of after) {
    const b = before.get(name) ?? { calls: 0, usec: 0 };
    if (a.calls > b.calls) out.set(name, { calls: a.calls - b.calls, usec: a.usec - b.usec });
  }
  return out;
}

/** The Redis server version, for the report. */
export async function redisVersion(target: AnyRedisTarget): Promise<string> {
  const [node] = target.nodes();
  return node ? ((await info(node, 'server')).get('redis_version') ?? 'unknown') : 'unknown';
}

/**
 * Readings in `streams` (a sharded stream's shard streams, or one stream): a single-reading entry
 * is one, a batch entry (one per accepted batch) as many as its `count` field says.
 */
export async function storedReadings(target: AnyRedisTarget, streams: string | readonly string[]): Promise<number> {
  let total = 0;
  for (const stream of typeof streams === 'string' ? [streams] : streams) {
    let cursor = '-';
    for (;;) {
      const page = await target.client.xrange(stream, cursor, '+', 'COUNT', 10_000);
      for (const [, fields] of page) {
        const at = fields.indexOf('count');
        total += at >= 0 && fields.includes('readings') ? Number(fields[at + 1]) : 1;
      }
      if (page.length < 10_000) break;
      cursor = `(${page[page.length - 1]![0]}`;
    }
  }
  return total;
}

/** `text` as a SCAN MATCH pattern that matches only itself. */
/**
 * Deletes what the bench wrote for `streams` (every shard stream of a sharded one): on a private
 * target everything (FLUSHALL on every master, done synchronously so that freeing memory never
 * runs into the next measurement); on a shared one only each stream and the keys carrying its
 * hash tag (`ep:{<tag>}:*`, the tag a shard stream's own `{…}` part), looked for on every node.
 */
export async function clearStreams(target: AnyRedisTarget, streams: readonly string[]): Promise<void> {
  if (target.private) {
    for (const node of target.nodes()) await node.flushall('SYNC');
    return;
  }
  for (const stream of streams) {
    await target.client.del(stream);
    for (const node of target.nodes()) {
      let cursor = '0';
      do {
        const [nextCursor, keys] = await node.scan(cursor, 'MATCH', `ep:${escapeGlob(hashTag(stream))}:*`, 'COUNT', 1000);
        cursor = nextCursor;
        // One slot per stream's keys, so one DEL may take them all, on a cluster node too.
        if (keys.length > 0) await node.del(...keys);
      } while (cursor !== '0');
    }
  }
}

/** A private redis-server on a free port (the default), or the Redis at `url`. */
export async function openRedisTarget(url: string | null): Promise<RedisTarget> {
  if (url === null) {
    const server: TestRedis = await startRedisServer();
    return {
      url: server.url,
      env: {},
      client: server.client,
      description: 'private redis-server',
      private: true,
      nodes: () => [server.client],
      stop: () => server.stop(),
    };
  }
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  return {
    url,
    env: {},
    client,
    description: `Redis at ${new URL(url).host} (shared: CPU figures include other clients)`,
    private: false,
    nodes: () => [client],
    stop: async () => {
      client.disconnect();
    },
  };
}

/**
 * A private Redis Cluster (scripts/lib/redis-cluster.ts) of `masters` masters and no replicas,
 * each an equal share of the slots; nodes() are its masters in slot order, so node i serves the
 * i-th range, where shards.ts puts the i-th group of a sharded stream's shards.
 * @param masters @default 3
 */
export async function openClusterTarget(masters = 3): Promise<RedisTarget<Cluster>> {
  const cluster = await startRedisCluster({ masters });
  const nodes = (await cluster.masters()).map((m) => cluster.nodeClient(m.address));
  return {
    // REDIS_URL only names the scheme here: the seed nodes say where the cluster is.
    url: `redis://${cluster.startupNodes[0]!.host}:${cluster.startupNodes[0]!.port}`,
    env: { REDIS_CLUSTER_NODES: cluster.seedNodes },
    client: cluster.client,
    description: `private Redis Cluster, ${masters} masters`,
    private: true,
    nodes: () => nodes,
    stop: () => cluster.stop(),
  };
}
