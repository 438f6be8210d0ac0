import { z } from 'zod';
import { authConfigFrom, authEnvShape, parseEnv, port, positiveInt, redisConfigFrom, redisEnvShape, type AccessLog, type AuthConfig, type RedisConfig } from '@energy-pipeline/server-kit';
import type { TimestampWindow } from '@energy-pipeline/contract';
import type { DedupeSettings } from '../store/dedupe-format.js';

/** A count where 0 means "no limit". */
const limit = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/** Every variable the service reads, with its default: docs/operations.md's configuration table is checked against it. */
export const ingestEnvShape = {
  ...redisEnvShape,
  PORT: port(8000),
  /** How far in the future a reading's timestamp may be (device clock skew). */
  READING_MAX_FUTURE_SKEW_S: positiveInt(300),
  /** How old a reading may be on arrival; 0 = any age (repeats are recognised however late). */
  READING_MAX_AGE_S: limit(0),
  BODY_LIMIT_BYTES: positiveInt(1_048_576),
  BATCH_MAX_READINGS: positiveInt(1_000),
  /** How far behind its newest reading a device's readings without seq are remembered (any order within it). */
  DEDUPE_WINDOW_S: z.coerce.number().int().min(60).max(7 * 86_400).default(3_600),
  /** How far behind its newest seq a device's numbered readings are remembered. */
  DEDUPE_SEQ_WINDOW: z.coerce.number().int().min(64).max(1_000_000).default(1_024),
  /** Most readings without seq remembered per device per 5 minutes (the hard cap per device). */
  DEDUPE_MAX_PER_5MIN: z.coerce.number().int().min(1).max(30_000).default(600),
  ...authEnvShape,
  /** Replicas that must have a write before it gets its 2xx (WAIT); 0 answers on the primary's word. */
  WRITE_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  RATE_LIMIT_MAX: limit(6_000),
  RATE_LIMIT_WINDOW_S: positiveInt(60),
  /** How often each replica adds its rate-limit counts to Redis's; 0: every request is counted in Redis before it is answered. */
  RATE_LIMIT_SYNC_MS: limit(100),
  MAX_BACKLOG: limit(100_000),
  BACKLOG_CHECK_INTERVAL_MS: positiveInt(1_000),
  BACKLOG_RETRY_AFTER_S: positiveInt(5),
  MAX_EVENT_LOOP_DELAY_MS: limit(1_000),
  MAX_HEAP_USED_BYTES: limit(0),
};

export interface LimitsConfig {
  /** Requests per key (per client IP when auth is off) per window, across all replicas; 0 = off. @default 6000 */
  rateLimitMax: number;
  /** @default 60000 */
  rateLimitWindowMs: number;
  /**
   * How often each replica adds its counts to the shared ones in Redis (store/rate-counts.ts);
   * 0: every request is counted in Redis before it is answered (a round trip each). @default 100
   */
  rateLimitSyncMs: number;
  /** Consumer-group backlog (lag + pending) past which writes get 503; 0 = off. @default 100000 */
  maxBacklog: number;
  /** How often the backlog is read from Redis (XINFO GROUPS), in the background. @default 1000 */
  backlogCheckIntervalMs: number;
  /** Retry-After sent with a backlog 503. @default 5 */
  backlogRetryAfterS: number;
  /** Event-loop delay past which writes get 503 (@fastify/under-pressure); 0 = off. @default 1000 */
  maxEventLoopDelayMs: number;
  /** Heap use past which writes get 503; 0 = off. @default 0 */
  maxHeapUsedBytes: number;
}

export interface IngestConfig {
  redis: RedisConfig;
  /** @default "0.0.0.0" */
  host: string;
  /** @default 8000 */
  port: number;
  /** @default "info" */
  logLevel: string;
  /** How log lines look: JSON, or pino-pretty's lines for a terminal. @default "json" */
  logFormat: 'json' | 'pretty';
  /** Which requests get an access line (server-kit AccessLog). @default "failures" */
  accessLog: AccessLog;
  timestampWindow: TimestampWindow;
  /** Largest request body, in bytes, after gzip decompression; larger ones get 413. @default 1048576 */
  bodyLimitBytes: number;
  /** Most readings one POST /readings/batch may carry. @default 1000 */
  batchMaxReadings: number;
  /**
   * What is remembered of each device to store its readings exactly once, in any order
   * (store/dedupe-format.ts): readings without seq up to `windowMs` behind the device's newest
   * (at most `maxPerChunk` per 5 minutes), numbered ones up to `seqWindow` behind its newest seq.
   * Memory per device grows with the readings in the window (docs/operations.md#sizing).
   */
  dedupe: DedupeSettings;
  /**
   * Replicas that must have acknowledged a write (WAIT) before ingest answers 2xx, so that an
   * asynchronous failover cannot lose an acknowledged reading; fewer in time is a 503 with outcome
   * `unknown`. @default 0 (the primary's word)
   */
  writeReplicas: number;
  auth: AuthConfig;
  limits: LimitsConfig;
  /** How long a SIGTERM waits for in-flight requests. @default 10000 */
  shutdownTimeoutMs: number;
}

export function loadIngestConfig(env: Record<string, string | undefined>): IngestConfig {
  const e = parseEnv(ingestEnvShape, env);
  const auth = authConfigFrom(e);
  return {
    redis: redisConfigFrom(e),
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    accessLog: e.ACCESS_LOG,
    timestampWindow: {
      maxFutureSkewMs: e.READING_MAX_FUTURE_SKEW_S * 1000,
      maxAgeMs: e.READING_MAX_AGE_S * 1000,
    },
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    batchMaxReadings: e.BATCH_MAX_READINGS,
    dedupe: { windowMs: e.DEDUPE_WINDOW_S * 1000, seqWindow: e.DEDUPE_SEQ_WINDOW, maxPerChunk: e.DEDUPE_MAX_PER_5MIN },
    writeReplicas: e.WRITE_REPLICAS,
    auth,
    limits: {
      rateLimitMax: e.RATE_LIMIT_MAX,
      rateLimitWindowMs: e.RATE_LIMIT_WINDOW_S * 1000,
      rateLimitSyncMs: e.RATE_LIMIT_SYNC_MS,
      maxBacklog: e.MAX_BACKLOG,
      backlogCheckIntervalMs: e.BACKLOG_CHECK_INTERVAL_MS,
      backlogRetryAfterS: e.BACKLOG_RETRY_AFTER_S,
      maxEventLoopDelayMs: e.MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: e.MAX_HEAP_USED_BYTES,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}
