import type { RedisClient } from '@energy-pipeline/server-kit';
import { CountRequests } from './count-requests.js';

/** One key's count in this process, in its current window. */
interface KeyCount {
  /** When the window ends (Redis's answer at the last sync; a guess before the first). */
  endsAt: number;
  /** The key's total across replicas as Redis last answered it (this replica's sent counts included). */
  shared: number;
  /** Sent to Redis, no answer yet. */
  sending: number;
  /** Counted here since the last sync. */
  pending: number;
}

/** A key's count in its window, as far as known when a request is counted. */
export interface RateLimitState {
  current: number;
  /** ms until the window ends */
  ttl: number;
}

export interface RateCountsOptions {
  /** Prefix of the counters' Redis keys (RATE_LIMIT_KEY_PREFIX). */
  prefix: string;
  /**
   * How often this replica's counts are added to the shared ones (RATE_LIMIT_SYNC_MS; 0: callers
   * count every request in Redis with incrShared instead of incr). @default 100
   */
  syncMs: number;
  /** The rate limit's window (RATE_LIMIT_WINDOW_S): how long a key's count lives. @default 60000 */
  windowMs: number;
  log: { warn(details: object, message: string): void };
}

/**
 * Rate-limit counts shared by every ingest replica through Redis, without a Redis round trip per
 * request: each replica counts its requests per key in memory, answers from its last view of
 * the shared count plus its own since, and every `syncMs` adds its counts to the key's counter
 * (lua/count-requests.lua) and reads back the total. One replica alone enforces the limit
 * exactly; across replicas a key can pass its limit by what the other replicas accept from it
 * in one sync interval (the model of Kong's `sync_rate`). While Redis cannot count, each replica
 * keeps counting its own, so a key is still limited per replica.
 *
 * With RATE_LIMIT_SYNC_MS=0, incrShared counts each request in Redis before it is answered:
 * exact across replicas, at a round trip per request.
 */
export class RateCounts {
  private readonly keys = new Map<string, KeyCount>();
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> = Promise.resolve();
  private closed = false;
  private reported = false;
  private readonly script: CountRequests;

  constructor(
    redis: RedisClient,
    private readonly options: RateCountsOptions,
  ) {
    this.script = new CountRequests(redis);
  }

  /** RATE_LIMIT_SYNC_MS=0: requests are counted in Redis one by one (incrShared), not here. */
  get perRequest(): boolean {
    return this.options.syncMs === 0;
  }

  /** Keys counted in their current window (a key is forgotten at the first sync after its window ends). */
  get size(): number {
    return this.keys.size;
  }

  /** Counts one request of `key`: its count in the window across replicas, as far as known now. */
  incr(key: string): RateLimitState {
    const now = Date.now();
    let count = this.keys.get(key);
    if (!count || now >= count.endsAt) {
      count = { endsAt: now + this.options.windowMs, shared: 0, sending: 0, pending: 0 };
      this.keys.set(key, count);
    }
    count.pending += 1;
    this.schedule();
    return { current: count.shared + count.sending + count.pending, ttl: count.endsAt - now };
  }

  /**
   * Counts one request of `key` in Redis at once (RATE_LIMIT_SYNC_MS=0): its count across
   * replicas. Null when Redis did not count it (down, or slower than the connection's command
   * timeout): the caller lets the request go on uncounted rather than fail it for the limiter.
   */
  async incrShared(key: string): Promise<RateLimitState | null> {
    try {
      const { total, ttlMs: ttl } = await this.countInRedis(key, 1);
      return { current: total, ttl };
    } catch {
      return null;
    }
  }

  /** Sends what is still counted here, once; later counts stay local. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.syncing;
    await this.sync();
  }

  private schedule() {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.syncing = this.sync();
    }, this.options.syncMs);
    this.timer.unref();
  }

  /** Adds every key's pending count to Redis and forgets keys whose window is over. */
  private async sync(): Promise<void> {
    const now = Date.now();
    const sends: Promise<void>[] = [];
    for (const [key, count] of this.keys) {
      if (count.pending === 0) {
        if (now >= count.endsAt && count.sending === 0) this.keys.delete(key);
        continue;
      }
      const n = count.pending;
      count.pending = 0;
      count.sending += n;
      sends.push(this.send(key, count, n));
    }
    await Promise.all(sends);
  }

  private async send(key: string, count: KeyCount, n: number) {
    try {
      const { total, ttlMs: ttl } = await this.countInRedis(key, n);
      count.sending -= n;
      // Replies come in order on the connection: `total` holds every earlier send of this key.
      count.shared = total;
      if (ttl > 0) count.endsAt = Date.now() + ttl;
      this.reported = false;
    } catch (err) {
      // Not known to be counted in Redis: it stays counted here, so this replica still limits.
      count.sending -= n;
      count.shared += n;
      if (!this.reported && !this.closed) this.options.log.warn({ err: (err as Error).message }, 'rate-limit counts not shared: Redis did not take them; counting per replica meanwhile');
      this.reported = true;
    }
  }

  /** Adds `n` to the key's shared count (lua/count-requests.lua): its total and the ms left of its window. */
  private countInRedis(key: string, n: number) {
    return this.script.run(this.options.prefix + key, { count: n, windowMs: this.options.windowMs });
  }
}
