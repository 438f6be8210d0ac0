import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { ConsumerConfig } from './config.js';
import type { Applier, StreamEntry } from './applier.js';

type AutoClaimReply = [next: string, entries: StreamEntry[], deleted?: string[]];

/**
 * Takes over entries that another consumer received but has not acknowledged for
 * `claimMinIdleMs` (it crashed, or was scaled away), and applies them. Correctness does not
 * depend on the idle time: a step applies an entry only if its own XACK removed it.
 */
export class Claimer {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<unknown> | null = null;
  private started = false;

  constructor(
    private readonly redis: Redis,
    private readonly applier: Applier,
    private readonly config: ConsumerConfig,
    private readonly log: FastifyBaseLogger,
  ) {}

  start() {
    if (this.started) return;
    this.started = true;
    this.schedule();
  }

  /** Safe to call twice; waits for a claim pass in progress. */
  async stop() {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private schedule() {
    if (!this.started) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.claimAll()
        .catch((err: Error) => this.log.warn({ err: err.message }, 'claim pass failed'))
        .finally(() => {
          this.inFlight = null;
          this.schedule();
        });
    }, this.config.claimIntervalMs);
  }

  /** One pass over the group's pending list; returns how many entries it took over. */
  async claimAll(): Promise<number> {
    const { stream, group, name, claimMinIdleMs, readCount } = this.config;
    let cursor = '0-0';
    let claimed = 0;
    do {
      const [next, entries] = (await this.redis.call(
        'XAUTOCLAIM', stream, group, name, claimMinIdleMs, cursor, 'COUNT', readCount,
      )) as AutoClaimReply;
      if (entries.length > 0) {
        this.log.info({ count: entries.length }, 'claimed idle entries');
        await this.applier.apply(entries);
        claimed += entries.length;
      }
      cursor = next;
    } while (cursor !== '0-0' && this.started);
    return claimed;
  }
}
