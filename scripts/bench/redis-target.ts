import { Redis } from 'ioredis';
import { startRedisServer, type TestRedis } from '../lib/redis-server.js';

export interface CommandStat {
  calls: number;
  usec: number;
}

/**
 * The Redis the bench measures against. Today one node: a private redis-server it starts (the
 * default), or an existing one at `--redis-url`. A Redis Cluster target would implement the same
 * interface by summing INFO over its primaries (`nodes()`); the rows need nothing else.
 */
export interface RedisTarget {
  /** What the services get as REDIS_URL. */
  url: string;
  /** For set-up, INFO and clean-up. */
  client: Redis;
  /** Shown in the report, e.g. "private redis-server 7.0.15". */
  description: string;
  /** True when the bench started this server (it may then flush it and reset its statistics). */
  private: boolean;
  /** Clients of every node whose INFO counts (one here). */
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

/** Redis CPU time (user + system, all threads) so far, in µs, summed over the target's nodes. */
export async function redisCpuUs(target: RedisTarget): Promise<number> {
  let total = 0;
  for (const node of target.nodes()) {
    const cpu = await info(node, 'cpu');
    total += (Number(cpu.get('used_cpu_user')) + Number(cpu.get('used_cpu_sys'))) * 1e6;
  }
  return total;
}

/** INFO commandstats summed over the target's nodes: command name → calls and µs. */
export async function commandStats(target: RedisTarget): Promise<Map<string, CommandStat>> {
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
export async function redisVersion(target: RedisTarget): Promise<string> {
  return (await info(target.client, 'server')).get('redis_version') ?? 'unknown';
}

/**
 * Deletes what the bench wrote for `streams`: on a private server everything (FLUSHALL, done
 * synchronously so that freeing memory never runs into the next measurement); on a shared one
 * only each stream and the keys carrying its hash tag.
 */
/**
 * Readings in `stream`: a single-reading entry is one, a batch entry (one per accepted batch) as
 * many as its `count` field says.
 */
export async function storedReadings(target: RedisTarget, stream: string): Promise<number> {
  let total = 0;
  let cursor = '-';
  for (;;) {
    const page = await target.client.xrange(stream, cursor, '+', 'COUNT', 10_000);
    for (const [, fields] of page) {
      const at = fields.indexOf('count');
      total += at >= 0 && fields.includes('readings') ? Number(fields[at + 1]) : 1;
    }
    if (page.length < 10_000) return total;
    cursor = `(${page[page.length - 1]![0]}`;
  }
}

export async function clearStreams(target: RedisTarget, streams: readonly string[]): Promise<void> {
  if (target.private) {
    await target.client.flushall('SYNC');
    return;
  }
  for (const stream of streams) {
    await target.client.del(stream);
    let cursor = '0';
    do {
      const [nextCursor, keys] = await target.client.scan(cursor, 'MATCH', `ep:{${stream}}:*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length > 0) await target.client.del(...keys);
    } while (cursor !== '0');
  }
}

/** A private redis-server on a free port (the default), or the Redis at `url`. */
export async function openRedisTarget(url: string | null): Promise<RedisTarget> {
  if (url === null) {
    const server: TestRedis = await startRedisServer();
    return {
      url: server.url,
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
    client,
    description: `Redis at ${new URL(url).host} (shared: CPU figures include other clients)`,
    private: false,
    nodes: () => [client],
    stop: async () => {
      client.disconnect();
    },
  };
}
