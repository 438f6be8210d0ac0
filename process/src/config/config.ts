import { hostname } from 'node:os';
import { z } from 'zod';
import type { Retention } from '../queries/buckets.js';
import { ConfigError, authConfigFrom, authEnvShape, parseEnv, port, positiveInt, redisConfigFrom, redisEnvShape, type AccessLog, type AuthConfig, type RedisConfig } from '@energy-pipeline/server-kit';

/** Every variable the service reads, with its default: docs/operations.md's configuration table is checked against it. */
export const processEnvShape = {
  ...redisEnvShape,
  PORT: port(8001),
  /** Unique per replica: a pod's hostname is its name, so Kubernetes gives each one its own. */
  CONSUMER_NAME: z.string().min(1).max(200).regex(/^\S+$/, 'must not contain spaces').optional(),
  READ_COUNT: positiveInt(200),
  READ_BLOCK_MS: positiveInt(2_000),
  CLAIM_MIN_IDLE_MS: positiveInt(60_000),
  CLAIM_INTERVAL_MS: positiveInt(10_000),
  CONSUMER_IDLE_DELETE_MS: positiveInt(3_600_000),
  MAX_DELIVERIES: positiveInt(5),
  TRIM_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
  MINUTE_RETENTION_S: positiveInt(7 * 24 * 3600),
  HOUR_RETENTION_S: positiveInt(400 * 24 * 3600),
  DAY_RETENTION_S: positiveInt(1098 * 24 * 3600),
  MONTH_RETENTION_S: positiveInt(3660 * 24 * 3600),
  QUERY_MAX_POINTS: positiveInt(1_500),
  /** The shards this replica reads, e.g. `0,2,4`; every shard when unset. */
  PROCESS_SHARDS: z
    .string()
    .regex(/^\s*\d+\s*(,\s*\d+\s*)*$/, 'must be shard numbers such as 0,2,4')
    .transform((v) => [...new Set(v.split(',').map(Number))].sort((a, b) => a - b))
    .optional(),
  LIVE_RETENTION_S: z.coerce.number().int().min(0).default(300),
  LIVE_INTERVAL_MS: z.coerce.number().int().min(100).default(1_000),
  LIVE_QUEUE_MAX: positiveInt(10_000),
  LIVE_QUIET_FACTOR: z.coerce.number().min(1).default(3),
  LIVE_FLEET_MAX_SITES: positiveInt(200),
  ...authEnvShape,
};

/** When the live view calls a device quiet. */
export interface QuietRule {
  /** A device is quiet after this many of its usual intervals without a reading. @default 3 */
  factor: number;
  /** …and never sooner than this, in ms, so that network jitter does not make fast devices flap. @default 10000 */
  minMs: number;
  /** A device whose interval is unknown is quiet after this long, in ms (the hour buckets looked back that far). @default 86400000 */
  unknownMs: number;
}

/** The live side's settings (LIVE_*). */
export interface LiveConfig {
  /** How often site figures, the fleet and the pipeline are re-read and sent. @default 1000 */
  intervalMs: number;
  /** Most readings waiting for one subscriber before it is dropped (it then resumes from the stream). @default 10000 */
  queueMax: number;
  /** Most sites in the fleet overview. @default 200 */
  fleetMaxSites: number;
  quiet: QuietRule;
}

export interface ConsumerConfig {
  stream: string;
  group: string;
  /** This replica's consumer name within the group. @default os.hostname() */
  name: string;
  /** Entries fetched per XREADGROUP. @default 200 */
  readCount: number;
  /**
   * How long one XREADGROUP blocks waiting for entries. Bounded so that a stop, or a
   * connection that died without telling us, is noticed within about this long. @default 2000
   */
  blockMs: number;
  /**
   * Entries pending on another consumer for longer than this are taken over by XAUTOCLAIM.
   * Must be well above the longest time a live consumer holds an entry (one batch's
   * processing, milliseconds here), or live consumers' work is stolen; a takeover is harmless
   * for correctness (only the step that acknowledges applies) but wastes work. @default 60000
   */
  claimMinIdleMs: number;
  /** How often to look for such entries. @default 10000 */
  claimIntervalMs: number;
  /** Other consumers idle this long and holding nothing are removed from the group. @default 3600000 */
  consumerIdleDeleteMs: number;
  /** An entry delivered more often than this goes to the dead letters. @default 5 */
  maxDeliveries: number;
  /** How often the stream is trimmed below what every group acknowledged; 0 = never. @default 60000 */
  trimIntervalMs: number;
  /**
   * The trimmer keeps at least this many seconds of entries, acknowledged or not, so that a live
   * subscriber that reconnects within it resumes where it left off (LIVE_RETENTION_S). @default 300
   */
  liveRetentionS: number;
  retention: Retention;
}

export interface ProcessConfig {
  redis: RedisConfig;
  /** The consumer's settings; `stream` is REDIS_STREAM, and each shard's consumer reads its own. */
  consumer: ConsumerConfig;
  /** The shards this replica reads (PROCESS_SHARDS), in order. @default every shard */
  shards: number[];
  /** @default "0.0.0.0" */
  host: string;
  /** @default 8001 */
  port: number;
  /** @default "info" */
  logLevel: string;
  /** How log lines look: JSON, or pino-pretty's lines for a terminal. @default "json" */
  logFormat: 'json' | 'pretty';
  /** Which requests get an access line (server-kit AccessLog). @default "failures" */
  accessLog: AccessLog;
  /** Bound on a graceful stop, including draining the consumer. @default 10000 */
  shutdownTimeoutMs: number;
  /** Most buckets one series query may span; a longer range gets 400. @default 1500 */
  queryMaxPoints: number;
  /** API keys for the query and dead-letter routes (the same key file as ingest's serves both). */
  auth: AuthConfig;
  /** The live side (/trpc subscriptions). */
  live: LiveConfig;
}

export function loadProcessConfig(env: Record<string, string | undefined>): ProcessConfig {
  const e = parseEnv(processEnvShape, env);
  const auth = authConfigFrom(e);
  const redis = redisConfigFrom(e);
  const shards = e.PROCESS_SHARDS ?? redis.streams.map((_, i) => i);
  const outside = shards.filter((i) => i >= redis.streams.length);
  if (outside.length > 0) {
    throw new ConfigError(
      `Invalid configuration:\n  PROCESS_SHARDS: ${outside.join(', ')} not below STREAM_SHARDS (${redis.streams.length})`,
    );
  }
  return {
    redis,
    shards,
    consumer: {
      stream: redis.stream,
      group: redis.group,
      name: e.CONSUMER_NAME ?? hostname(),
      readCount: e.READ_COUNT,
      blockMs: e.READ_BLOCK_MS,
      claimMinIdleMs: e.CLAIM_MIN_IDLE_MS,
      claimIntervalMs: e.CLAIM_INTERVAL_MS,
      consumerIdleDeleteMs: e.CONSUMER_IDLE_DELETE_MS,
      maxDeliveries: e.MAX_DELIVERIES,
      trimIntervalMs: e.TRIM_INTERVAL_MS,
      liveRetentionS: e.LIVE_RETENTION_S,
      retention: { minuteS: e.MINUTE_RETENTION_S, hourS: e.HOUR_RETENTION_S, dayS: e.DAY_RETENTION_S, monthS: e.MONTH_RETENTION_S },
    },
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    accessLog: e.ACCESS_LOG,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    queryMaxPoints: e.QUERY_MAX_POINTS,
    auth,
    live: {
      intervalMs: e.LIVE_INTERVAL_MS,
      queueMax: e.LIVE_QUEUE_MAX,
      fleetMaxSites: e.LIVE_FLEET_MAX_SITES,
      quiet: { factor: e.LIVE_QUIET_FACTOR, minMs: 10_000, unknownMs: 86_400_000 },
    },
  };
}
