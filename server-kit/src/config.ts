import { z } from 'zod';
import { shardStreams } from './shards.js';

/** Thrown when the environment does not parse; its message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses `env` with `shape` in one go, so that a bad deployment learns about every wrong
 * variable at once instead of one per restart.
 */
export function parseEnv<T extends z.ZodRawShape>(shape: T, env: Record<string, string | undefined>) {
  // Empty strings are treated as unset: Helm and shells render missing values as "".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The Redis part of both services' environment, with the seed's variable names. */
export const redisEnvShape = {
  /** Wins over REDIS_HOST/REDIS_PORT when set, e.g. `redis://:secret@redis:6379/0` or `rediss://…`. */
  REDIS_URL: z.url({ protocol: /^rediss?$/, message: 'must be a redis:// or rediss:// URL' }).optional(),
  REDIS_HOST: z.string().default('localhost'),
  REDIS_PORT: port(6379),
  REDIS_PASSWORD: z.string().optional(),
  /**
   * Connect with TLS, as a `rediss://` REDIS_URL does; the server's certificate is verified
   * against the system's CAs plus NODE_EXTRA_CA_CERTS (the chart mounts a private CA there).
   */
  REDIS_TLS: booleanFlag(false),
  REDIS_STREAM: z.string().min(1).max(200).default('energy_readings'),
  CONSUMER_GROUP: z.string().min(1).max(200).default('processing_group'),
  /** Shards the stream is split into (shards.ts); every service of a pipeline must agree (layout.ts). */
  STREAM_SHARDS: z.coerce.number().int().min(1).max(1024).default(1),
  /**
   * Seed nodes of a Redis Cluster, `host:port,host:port`: the services then use ioredis' Cluster
   * client. Password and TLS still come from REDIS_PASSWORD / REDIS_TLS / REDIS_URL.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/, 'must be host:port[,host:port…]')
    .transform((v) => v.split(',').map((n) => n.trim()))
    .optional(),
  REDIS_COMMAND_TIMEOUT_MS: positiveInt(2000),
  /** Run on a Redis whose maxmemory-policy is not noeviction (logging an error) instead of refusing to start. */
  ALLOW_EVICTION: booleanFlag(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Which requests get an access line: `failures` (4xx, 5xx and slow ones), `all` or `off` (server-kit/src/http.ts AccessLog). */
  ACCESS_LOG: z.enum(['all', 'failures', 'off']).default('failures'),
  /** `json` lines for log collectors, or `pretty` for a person at a terminal (npm start sets it on a TTY). */
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  HOST: z.string().default('0.0.0.0'),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
};

export interface RedisConfig {
  /**
   * Connection URL; built from REDIS_HOST, REDIS_PORT and REDIS_PASSWORD when REDIS_URL is unset.
   * `rediss://` (TLS) when REDIS_TLS is set, whatever REDIS_URL's scheme.
   */
  url: string;
  /** Seed nodes (`host:port`) of a Redis Cluster, or null for a single Redis at `url`. @default null */
  clusterNodes: string[] | null;
  /** The configured stream name (REDIS_STREAM); the shards' streams derive from it. */
  stream: string;
  /** Every shard's stream, in shard order (shards.ts); `[stream]` with one shard. */
  streams: string[];
  group: string;
  /** Bound on every non-blocking command, so that a hung Redis becomes a 503 rather than a hung request. @default 2000 */
  commandTimeoutMs: number;
  /**
   * Start on a Redis whose maxmemory-policy may evict keys (it then counts readings twice),
   * logging an error, instead of refusing to start. @default false
   */
  allowEviction: boolean;
}

function withTls(url: string, tls: boolean): string {
  return tls ? url.replace(/^redis:/, 'rediss:') : url;
}

export function redisConfigFrom(env: {
  REDIS_URL?: string | undefined;
  REDIS_HOST: string;
  REDIS_PORT: number;
  REDIS_PASSWORD?: string | undefined;
  REDIS_TLS?: boolean | undefined;
  REDIS_STREAM: string;
  CONSUMER_GROUP: string;
  STREAM_SHARDS: number;
  REDIS_CLUSTER_NODES?: string[] | undefined;
  REDIS_COMMAND_TIMEOUT_MS: number;
  ALLOW_EVICTION: boolean;
}): RedisConfig {
  const auth = env.REDIS_PASSWORD ? `:${encodeURIComponent(env.REDIS_PASSWORD)}@` : '';
  let streams: string[];
  try {
    streams = shardStreams(env.REDIS_STREAM, env.STREAM_SHARDS);
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  REDIS_STREAM: ${(err as Error).message} (STREAM_SHARDS=${env.STREAM_SHARDS})`);
  }
  return {
    url: withTls(env.REDIS_URL ?? `redis://${auth}${env.REDIS_HOST}:${env.REDIS_PORT}`, env.REDIS_TLS ?? false),
    clusterNodes: env.REDIS_CLUSTER_NODES ?? null,
    stream: env.REDIS_STREAM,
    streams,
    group: env.CONSUMER_GROUP,
    commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    allowEviction: env.ALLOW_EVICTION,
  };
}
