import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { ConsumerConfig } from './config.js';
import type { Applier, StreamEntry } from './applier.js';
import { ensureGroup, isNoGroupError } from './group.js';

type ReadReply = [stream: string, entries: StreamEntry[]][] | null;

/** How much longer than BLOCK a read may take before the connection is presumed dead. */
const WATCHDOG_GRACE_MS = 3_000;
const MAX_BACKOFF_MS = 2_000;

/**
 * The read loop: own pending entries first (what this consumer held when it last stopped or
 * lost Redis), then new ones. Reads block on their own connection, bounded by BLOCK and by a
 * watchdog, so a half-open TCP connection or a restarted Redis can stall the loop for a few
 * seconds at most (the known ioredis pitfall with blocking commands).
 */
export class Consumer {
  private loop: Promise<void> | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  /** When the loop last read from or acknowledged on the stream. */
  lastActivity: Date | null = null;

  constructor(
    private readonly blocking: Redis,
    private readonly commands: Redis,
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

  /** Stops reading and waits for the batch in hand to be applied; safe to call twice. */
  async stop() {
    if (!this.loop) return;
    this.stopping = true;
    this.wake?.();
    // A blocked XREADGROUP would otherwise hold the stop for up to BLOCK ms.
    this.blocking.disconnect(true);
    await this.loop;
  }

  private async run() {
    let backoffMs = 0;
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
          groupReady = true;
        }
        if (drainOwnPending) {
          await this.drainOwnPending();
          drainOwnPending = false;
        }
        const entries = await this.read('>', this.config.blockMs);
        if (entries.length > 0) await this.process(entries);
        backoffMs = 0;
      } catch (err) {
        if (this.stopping) break;
        if (isNoGroupError(err)) groupReady = false; // Redis restarted without its data
        drainOwnPending = true;
        backoffMs = Math.min(Math.max(backoffMs * 2, 100), MAX_BACKOFF_MS);
        this.log.warn({ err: (err as Error).message, retryInMs: backoffMs }, 'consumer loop error');
        await this.sleep(backoffMs);
      }
    }
  }

  /** Re-reads entries delivered to this consumer but never acknowledged, oldest first. */
  private async drainOwnPending() {
    let cursor = '0';
    while (!this.stopping) {
      const entries = await this.read(cursor, null);
      if (entries.length === 0) return;
      await this.process(entries);
      cursor = entries[entries.length - 1]![0];
    }
  }

  private async process(entries: StreamEntry[]) {
    await this.applier.apply(entries);
    this.lastActivity = new Date();
  }

  private async read(from: string, blockMs: number | null): Promise<StreamEntry[]> {
    const { stream, group, name, readCount } = this.config;
    const args: (string | number)[] = ['GROUP', group, name, 'COUNT', readCount];
    if (blockMs !== null) args.push('BLOCK', blockMs);
    args.push('STREAMS', stream, from);
    const reply = (await this.withWatchdog(
      this.blocking.call('XREADGROUP', ...args) as Promise<ReadReply>,
      (blockMs ?? 0) + WATCHDOG_GRACE_MS,
    )) as ReadReply;
    this.lastActivity = new Date();
    return reply?.[0]?.[1] ?? [];
  }

  /** Rejects, and drops the connection so ioredis reconnects, when a read outlives its bound. */
  private withWatchdog<T>(promise: Promise<T>, limitMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
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
