import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { keySlot } from './shards.js';

/** A single Redis or a Redis Cluster: the pipeline's code talks to either through the same commands. */
export type RedisClient = Redis | Cluster;

/**
 * One connection per role, each with the failure behaviour that role needs:
 * - `commands`: request-path and processing commands. No offline queue and no retries, so a
 *   Redis outage fails a command at once (a 503, or an entry left pending to be read again)
 *   instead of queueing work in memory; every command is bounded by `commandTimeoutMs`.
 * - `blocking`: XREADGROUP … BLOCK only. No command timeout (it blocks on purpose); the
 *   consumer's watchdog bounds it instead. Kept apart so a blocked read never delays an ack.
 */
export type RedisRole = 'commands' | 'blocking';

export interface CreateRedisOptions {
  url: string;
  /**
   * Seed nodes (`host:port`) of a Redis Cluster: a Cluster client is made, its username, password
   * and TLS taken from `url`. @default null (a single Redis at `url`)
   */
  clusterNodes?: readonly string[] | null;
  role: RedisRole;
  /** Shown in `CLIENT LIST`, which makes a stuck connection easy to find. */
  name: string;
  /** @default 2000 */
  commandTimeoutMs?: number;
  /**
   * Commands issued in one turn of the event loop go out in one write (ioredis auto-pipelining,
   * flushed on setImmediate): for a connection many concurrent requests share, one syscall and
   * one read for all of them instead of one each. @default false
   */
  autoPipelining?: boolean;
  /**
   * Where connection failures are reported (a refused TLS certificate, a wrong password, DNS),
   * once per distinct message until the connection is ready again: the retries themselves would
   * print a line every 2 s. @default none (silent)
   */
  log?: { warn(details: object, message: string): void };
}

export function createRedis({ url, clusterNodes = null, role, name, commandTimeoutMs = 2000, autoPipelining = false, log }: CreateRedisOptions): RedisClient {
  const options: RedisOptions = {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 5_000,
    // Reconnect for ever, backing off to 2 s: the services outlive Redis restarts.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    // A script or XACK resent after a reconnect could run twice; the caller decides instead.
    autoResendUnfulfilledCommands: false,
    enableAutoPipelining: autoPipelining,
    ...(role === 'commands' ? { commandTimeout: commandTimeoutMs } : {}),
  };
  const redis = clusterNodes ? createCluster(url, clusterNodes, options) : new Redis(url, options);
  // Without a listener ioredis prints every reconnect failure as an unhandled error event.
  let reported: string | null = null;
  redis.on('error', (err: Error) => {
    if (!log || err.message === reported) return;
    reported = err.message;
    log.warn({ connection: name, err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, `Redis connection failed: ${err.message}`);
  });
  redis.on('ready', () => {
    reported = null;
  });
  return redis;
}

function createCluster(url: string, nodes: readonly string[], redisOptions: RedisOptions): Cluster {
  const u = new URL(url);
  return new Cluster(
    nodes.map((node) => {
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    }),
    {
      redisOptions: {
        ...redisOptions,
        ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
        ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
        ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
      },
      // Fail fast as a single Redis does: nothing is queued while the cluster is unreachable
      // or resharding; callers answer 503 or leave entries pending.
      enableOfflineQueue: false,
      enableReadyCheck: true,
      maxRedirections: 16,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      // Reconnect for ever, backing off to 2 s, as for a single Redis.
      clusterRetryStrategy: (times) => Math.min(times * 100, 2_000),
      scaleReads: 'master',
      slotsRefreshTimeout: 2_000,
    },
  );
}

/**
 * WAIT on the connection that wrote `key`: how many replicas have acknowledged every write that
 * connection sent so far, blocking up to `timeoutMs`. WAIT speaks for its own connection only, so
 * with a Cluster it goes to the node that owns `key`'s slot, on the connection the write used.
 */
export async function waitForReplicas(redis: RedisClient, key: string, replicas: number, timeoutMs: number): Promise<number> {
  const timeout = Math.max(1, Math.ceil(timeoutMs));
  if (!(redis instanceof Cluster)) return Number(await redis.wait(replicas, timeout));
  const owner = redis.slots[keySlot(key)]?.[0];
  const node = redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) throw new Error(`no connection to the node that owns ${key}`);
  return Number(await node.wait(replicas, timeout));
}

/** `text` as a literal inside a SCAN MATCH pattern. */
export const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * Every key matching `pattern`: on each master of a Redis Cluster (SCAN is per node), else on the
 * one Redis. For tools and tests (a reshard, a ledger check), never a request path.
 */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...found);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys;
}

/** Resolves once `redis` is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: RedisClient, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/** Closes a connection without waiting on a Redis that may be gone; safe to call twice. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

const SOCKET_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const CONNECTION_MESSAGES = [
  // Not connected (connecting, reconnecting or closed): with the offline queue off, ioredis fails at once.
  "Stream isn't writeable and enableOfflineQueue options is false",
  'Connection is closed.',
  // No answer within commandTimeoutMs: Redis is frozen, overloaded or unreachable (a half-open socket).
  'Command timed out',
];
/**
 * Error replies by which Redis says it cannot serve now, not that the command was wrong: LOADING
 * (reading its data after a restart), BUSY (a script ran past busy-reply-threshold), MASTERDOWN
 * and READONLY (a replica, or a failover under way), TRYAGAIN and CLUSTERDOWN (resharding or a
 * cluster failover), OOM (maxmemory reached under noeviction: writes are refused until memory is
 * freed, which is the configured behaviour, not a bug).
 */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|OOM) /;

/**
 * Whether a failed Redis command failed because Redis cannot serve right now, so that the honest
 * answer is a 503 and a retry later will do: the connection is not ready or dropped with the
 * command in flight (ioredis's MaxRetriesPerRequestError, as maxRetriesPerRequest is 0, or a socket
 * error), the command timed out, or Redis answered with one of the replies above. Anything else,
 * such as WRONGTYPE, an ERR about arguments, or a TypeError in our own code, is a bug or corrupt
 * data: an outage answer would hide it, so the caller lets it become a logged 500.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && SOCKET_ERRORS.has(code)) return true;
  return CONNECTION_MESSAGES.includes(err.message) || UNAVAILABLE_REPLY.test(err.message);
}

