import type { FastifyBaseLogger } from 'fastify';
import { Periodic, readConsumers, type RedisClient } from '@energy-pipeline/server-kit';
import type { ConsumerConfig } from '../config/config.js';
import { deliveryCounts, type Applier, type StreamEntry } from './applier.js';
import { LeaveGroup } from './leave-group.js';

type AutoClaimReply = [next: string, entries: StreamEntry[], deleted?: string[]];

/**
 * Takes over entries that another consumer received but has not acknowledged for
 * `claimMinIdleMs` (it crashed, hangs, or was scaled away), and applies them. Correctness
 * does not depend on the idle time: a step applies an entry only if its own XACK removed it.
 * It also removes consumers that hold nothing and have been idle for `consumerIdleDeleteMs`,
 * so that pods replaced by Kubernetes do not pile up in XINFO CONSUMERS.
 */
export class Claimer {
  private readonly periodic: Periodic;
  private readonly leaveGroup: LeaveGroup;

  constructor(
    private readonly redis: RedisClient,
    private readonly applier: Applier,
    private readonly config: ConsumerConfig,
    private readonly log: FastifyBaseLogger,
    /** Called when claimed entries could not be applied: they are this consumer's now, to re-read later. */
    private readonly onUnapplied: () => void = () => {},
  ) {
    this.periodic = new Periodic('claim pass', config.claimIntervalMs, () => this.pass(), log);
    this.leaveGroup = new LeaveGroup(redis);
  }

  start() {
    this.periodic.start();
  }

  /** Safe to call twice; waits for a pass in progress. */
  async stop() {
    await this.periodic.stop();
  }

  private async pass() {
    await this.claimAll();
    await this.removeIdleConsumers();
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
        const live = entries.filter(([, fields]) => fields !== null);
        const result = await this.applier.apply(live, await deliveryCounts(this.redis, this.config, name, live));
        if (result.failed.length > 0) this.onUnapplied();
        claimed += entries.length;
      }
      cursor = next;
    } while (cursor !== '0-0' && this.periodic.running);
    return claimed;
  }

  /** Removes other consumers that hold no entries and have been idle long; returns how many. */
  async removeIdleConsumers(): Promise<number> {
    const { stream, group, name, consumerIdleDeleteMs } = this.config;
    let removed = 0;
    for (const c of await readConsumers(this.redis, stream, group)) {
      if (c.name === name || c.pending > 0 || (c.inactiveMs ?? c.idleMs) < consumerIdleDeleteMs) continue;
      removed += await this.leaveGroup.run(stream, { group, consumer: c.name });
    }
    if (removed > 0) this.log.info({ removed }, 'removed idle consumers');
    return removed;
  }
}
