import type { FastifyBaseLogger } from 'fastify';
import { Backoff, redisKeys, type RedisClient } from '@energy-pipeline/server-kit';
import type { ConsumerConfig } from '../config/config.js';
import { deliveryCounts, type Applier, type StreamEntry } from './applier.js';
import { ensureGroup, isNoGroupError } from './group.js';
import { migrateIdListsToSortedSets } from './sorted-sets.js';

type ReadReply = [stream: string, entries: StreamEntry[]][] | null;

/** How much longer than BLOCK a read may take before the connection is presumed dead. */
const WATCHDOG_GRACE_MS = 3_000;
/** Waits of the loop after an error, and before re-reading entries whose step failed. */
const LOOP_BACKOFF = { initialMs: 100, maxMs: 2_000 };
const PENDING_RETRY_BACKOFF = { initialMs: 200, maxMs: 5_000 };
/** Bound on the final drain of a graceful stop. */
const FINAL_DRAIN_MS = 3_000;

/**
 * The read loop: own pending entries first (what this consumer held when it last stopped or
 * lost Redis), then new ones. Blocking reads have their own connection, bounded by BLOCK and
 * by a watchdog, so a half-open TCP connection or a frozen Redis stalls the loop for a few
 * seconds at most (the known ioredis pitfall with blocking commands). Entries whose step
 * failed stay pending and are re-read after a growing delay.
 */
export class Consumer {
  private loop: Promise<void> | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  private retryPendingAt: number | null = null;
  private readonly pendingRetry = new Backoff(PENDING_RETRY_BACKOFF.initialMs, PENDING_RETRY_BACKOFF.maxMs);
  /** When the loop last read from or acknowledged on the stream. */
  lastActivity: Date | null = null;
  /** Times the watchdog dropped a read that outlived its bound. */
  watchdogTrips = 0;

  constructor(
    private readonly blocking: RedisClient,
    private readonly commands: RedisClient,
    private readonly applier: Applier,
    private readonly config: ConsumerConfig,
    private readonly log: FastifyBaseLogger,
  ) {}

  get running() {
    return this.loop !== null && !this.stopping;
  }

  start() {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run().finally(() => {
      this.loop = null;
    });
  }

  /**
   * Stops reading, finishes the batch in hand, then makes one bounded pass over this
   * consumer's pending entries, so that a graceful stop leaves as little as possible for
   * others to claim. Safe to call twice.
   */
  async stop() {
    if (!this.loop) return;
    this.stopping = true;
    this.wake?.();
    // A blocked XREADGROUP would otherwise hold the stop for up to BLOCK ms.
    this.blocking.disconnect(true);
    await this.loop;
    await this.drainOwnPending(true).catch((err: Error) =>
      this.log.warn({ err: err.message }, 'final drain failed; entries stay pending for others to claim'),
    );
  }

  /** Asks the loop to re-read this consumer's pending entries after a growing delay. */
  schedulePendingRetry() {
    const delayMs = this.pendingRetry.next();
    this.retryPendingAt ??= Date.now() + delayMs;
  }

  private async run() {
    const backoff = new Backoff(LOOP_BACKOFF.initialMs, LOOP_BACKOFF.maxMs);
    let groupReady = false;
    let drainOwnPending = true;
    while (!this.stopping) {
      if (this.commands.status !== 'ready' || this.blocking.status !== 'ready') {
        // Still connecting or reconnecting: ioredis retries on its own, nothing to report yet.
        await this.sleep(100);
        continue;
      }
      try {
        if (!groupReady) {
          if (await ensureGroup(this.commands, this.config.stream, this.config.group)) {
            this.log.info({ group: this.config.group }, 'created consumer group');
          }
          // Before the first entry is applied: the apply script writes the new layout only.
          await migrateIdListsToSortedSets(this.commands, redisKeys(this.config), this.log);
          groupReady = true;
        }
        const retryDue = this.retryPendingAt !== null && Date.now() >= this.retryPendingAt;
        if (drainOwnPending || retryDue) {
          this.retryPendingAt = null;
          const failed = await this.drainOwnPending();
          if (failed === 0) this.pendingRetry.reset();
          drainOwnPending = false;
        }
        const untilRetry = this.retryPendingAt === null ? Infinity : this.retryPendingAt - Date.now();
        const blockMs = Math.max(1, Math.min(this.config.blockMs, untilRetry));
        const entries = await this.readNew(blockMs);
        if (entries.length > 0) await this.process(entries);
        backoff.reset();
      } catch (err) {
        if (this.stopping) break;
        if (isNoGroupError(err)) groupReady = false; // Redis restarted without its data
        drainOwnPending = true;
        const retryInMs = backoff.next();
        this.log.warn({ err: (err as Error).message, retryInMs }, 'consumer loop error');
        await this.sleep(retryInMs);
      }
    }
  }

  /**
   * Re-reads entries delivered to this consumer but not acknowledged, oldest first, with
   * their delivery counts (so that one that keeps failing ends in the dead letters).
   * Returns how many failed again.
   */
  private async drainOwnPending(finalPass = false): Promise<number> {
    const { stream, group, name, readCount } = this.config;
    // The loop's passes end when it is told to stop; the final pass of a stop, after a bound.
    const deadline = finalPass ? Date.now() + FINAL_DRAIN_MS : Infinity;
    let cursor = '0';
    let failed = 0;
    while (finalPass ? Date.now() < deadline : !this.stopping) {
      const reply = (await this.commands.call(
        'XREADGROUP', 'GROUP', group, name, 'COUNT', readCount, 'STREAMS', stream, cursor,
      )) as ReadReply;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      const counts = await deliveryCounts(this.commands, this.config, name, entries);
      failed += (await this.process(entries, counts)).failed.length;
      cursor = entries[entries.length - 1]![0];
    }
    return failed;
  }

  private async process(entries: StreamEntry[], deliveries?: Map<string, number>) {
    const result = await this.applier.apply(entries, deliveries);
    if (result.failed.length > 0) this.schedulePendingRetry();
    this.lastActivity = new Date();
    return result;
  }

  private async readNew(blockMs: number): Promise<StreamEntry[]> {
    const { stream, group, name, readCount } = this.config;
    const reply = await this.withWatchdog(
      this.blocking.call('XREADGROUP', 'GROUP', group, name, 'COUNT', readCount, 'BLOCK', blockMs, 'STREAMS', stream, '>') as Promise<ReadReply>,
      blockMs + WATCHDOG_GRACE_MS,
    );
    this.lastActivity = new Date();
    return reply?.[0]?.[1] ?? [];
  }

  /** Rejects, and drops the connection so ioredis reconnects, when a read outlives its bound. */
  private withWatchdog<T>(promise: Promise<T>, limitMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.watchdogTrips += 1;
        this.blocking.disconnect(true);
        reject(new Error(`XREADGROUP gave no answer in ${limitMs} ms; reconnecting`));
      }, limitMs);
    });
    return Promise.race([promise, watchdog]).finally(() => clearTimeout(timer));
  }

  private sleep(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}
