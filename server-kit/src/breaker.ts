import { ReplyError } from 'ioredis';

/**
 * What a failed Redis command says about its effect, which decides what a client may be told:
 * - `not_sent`: it never left this process (no connection, offline queue off): nothing happened.
 * - `refused`: Redis answered with an error (OOM, WRONGTYPE, READONLY…): it did not act. Our
 *   scripts run every check that can fail before their first write, so a refused script wrote nothing.
 * - `unknown`: it was sent and no answer came (timeout, connection dropped): Redis may well have
 *   acted. A frozen Redis that wakes up executes every command it had read.
 */
export type FailureKind = 'not_sent' | 'refused' | 'unknown';

export function classifyRedisFailure(err: unknown): FailureKind {
  if (err instanceof ReplyError) return 'refused';
  const message = err instanceof Error ? err.message : String(err);
  if (/isn't writeable|enableOfflineQueue|circuit is open/i.test(message)) return 'not_sent';
  return 'unknown';
}

const isTimeout = (err: unknown) => err instanceof Error && /timed out/i.test(err.message);

export interface BreakerOptions {
  /** Consecutive timeouts that open the circuit. @default 3 */
  threshold?: number;
  /** How often the probe is tried while the circuit is open, in ms. @default 500 */
  probeIntervalMs?: number;
  /** Bound on each probe, in ms. @default 1000 */
  probeTimeoutMs?: number;
}

/**
 * A circuit breaker for a Redis that stops answering. A dead Redis fails fast (the connection
 * drops, commands are refused unsent); a frozen one (SIGSTOP, a stalled VM, a half-open TCP
 * connection) keeps the connection up and lets every command wait out its whole timeout. After
 * `threshold` consecutive timeouts the circuit opens: callers are answered at once, with nothing
 * sent, until the probe (a PING, or a command that reaches the node in question) gets through
 * again. Safe to close twice.
 */
export class RedisBreaker {
  private timeouts = 0;
  private probe: NodeJS.Timeout | null = null;
  private readonly threshold: number;
  private readonly probeIntervalMs: number;
  private readonly probeTimeoutMs: number;

  constructor(
    /** A cheap command answered by the Redis (or Cluster node) this breaker guards. */
    private readonly probeCommand: () => Promise<unknown>,
    options: BreakerOptions = {},
    private readonly onChange?: (open: boolean) => void,
  ) {
    this.threshold = options.threshold ?? 3;
    this.probeIntervalMs = options.probeIntervalMs ?? 500;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 1_000;
  }

  get open(): boolean {
    return this.probe !== null;
  }

  /**
   * Feeds the outcome of a command: a timeout counts towards opening, an answer (null) resets the
   * count, and an error reply changes nothing (Redis answered, so it is not frozen).
   */
  record(err: unknown | null) {
    if (err !== null && isTimeout(err)) {
      this.timeouts += 1;
      if (this.timeouts >= this.threshold && !this.open) this.trip();
    } else if (err === null) {
      this.timeouts = 0;
    }
  }

  /** Throws, with nothing sent, while the circuit is open (classifyRedisFailure: `not_sent`). */
  assertClosed() {
    if (this.open) throw new Error('Redis is not answering (circuit is open); nothing was sent');
  }

  close() {
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
  }

  private trip() {
    let probing = false;
    this.probe = setInterval(() => {
      if (probing) return;
      probing = true;
      void withDeadline(this.probeCommand(), this.probeTimeoutMs)
        .then(() => {
          this.timeouts = 0;
          this.close();
          this.onChange?.(false);
        })
        .catch(() => {})
        .finally(() => {
          probing = false;
        });
    }, this.probeIntervalMs);
    this.probe.unref();
    this.onChange?.(true);
  }
}

/**
 * Rejects with a timeout error once `ms` have passed, whatever `promise` does later. The work
 * itself is not cancelled: a Redis command already sent may still be executed.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${Math.round(ms)} ms (timed out)`)), Math.max(0, ms));
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
