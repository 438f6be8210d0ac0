import { parseEnv, port, positiveInt, redisConfigFrom, redisEnvShape, type RedisConfig } from '@energy-pipeline/contract/server';
import type { TimestampWindow } from '@energy-pipeline/contract';

const shape = {
  ...redisEnvShape,
  PORT: port(8000),
  /** How far in the future a reading's timestamp may be (device clock skew). */
  READING_MAX_FUTURE_SKEW_S: positiveInt(300),
  /** How old a reading may be on arrival (devices that buffered while offline): 7 days. */
  READING_MAX_AGE_S: positiveInt(7 * 24 * 3600),
  BODY_LIMIT_BYTES: positiveInt(1_048_576),
  BATCH_MAX_READINGS: positiveInt(1_000),
};

export interface IngestConfig {
  redis: RedisConfig;
  /** @default "0.0.0.0" */
  host: string;
  /** @default 8000 */
  port: number;
  /** @default "info" */
  logLevel: string;
  timestampWindow: TimestampWindow;
  /** Largest request body, in bytes; larger ones get 413. @default 1048576 */
  bodyLimitBytes: number;
  /** Most readings one POST /readings/batch may carry. @default 1000 */
  batchMaxReadings: number;
  /** How long a SIGTERM waits for in-flight requests. @default 10000 */
  shutdownTimeoutMs: number;
}

export function loadIngestConfig(env: Record<string, string | undefined>): IngestConfig {
  const e = parseEnv(shape, env);
  return {
    redis: redisConfigFrom(e),
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    timestampWindow: {
      maxFutureSkewMs: e.READING_MAX_FUTURE_SKEW_S * 1000,
      maxAgeMs: e.READING_MAX_AGE_S * 1000,
    },
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    batchMaxReadings: e.BATCH_MAX_READINGS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}

