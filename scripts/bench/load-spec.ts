/** What scripts/bench/load.ts runs: exactly one of `http`, `xadd` or `drain`. */
export interface LoadSpec {
  /** Concurrent connections (HTTP) or pipelines in flight (XADD). */
  connections: number;
  /** Measured seconds (ignored by `drain`, which runs until the group has nothing new). */
  durationS: number;
  /** Unmeasured seconds before, so that JIT and caches are warm on both sides. */
  warmupS: number;
  /** Index of the first fleet reading to send, so that two loads never send the same readings. @default 0 */
  firstReading?: number;
  http?: {
    url: string;
    path: string;
    headers: Record<string, string>;
    /**
     * `reading`: one JSON reading of a fleet whose devices take turns (no seq: each is identified by
     * its device and timestamp, as a plain curl user's); `batch`: {readings: […]}, one gateway's
     * batch (scripts/lib/readings.ts gatewayReading); `influx`: line protocol of the same.
     */
    body: 'reading' | 'batch' | 'influx';
    /** Readings per request. @default 1 */
    batchSize?: number;
    /** Batches: number every device's readings (seq), as the SDK does. @default true */
    seq?: boolean;
  };
  xadd?: { redisUrl: string; stream: string; batchSize: number };
  drain?: { redisUrl: string; stream: string; group: string; count: number };
}

export interface LoadResult {
  /** Measured wall time. */
  seconds: number;
  /** Successful requests (HTTP 2xx, pipelines or reads). */
  requests: number;
  /** Readings carried by the successful requests. */
  readings: number;
  /** Non-2xx answers, socket errors and timeouts. */
  errors: number;
  /** What the errors were, e.g. {"503": 12, "timeouts": 3}. */
  errorKinds: Record<string, number>;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  /** CPU time the load generator itself used over the measured part, in µs. */
  cpuUs?: number;
}
