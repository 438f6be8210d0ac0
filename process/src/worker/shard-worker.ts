import type { FastifyBaseLogger } from 'fastify';
import type { RedisClient } from '@energy-pipeline/server-kit';
import { Applier, type ApplyTally } from './applier.js';
import { Claimer } from './claimer.js';
import type { ConsumerConfig } from '../config/config.js';
import { Consumer } from './consumer.js';
import { SiteZones } from '../queries/site-zones.js';
import { Trimmer } from './trimmer.js';

/**
 * Everything that works one shard's stream: a read loop, a claimer and a trimmer sharing one
 * applier. They share the worker's command connection; the read loop has a blocking connection of
 * its own, so that a blocked read on one shard never delays another shard's reads or any ack
 * (in a Redis Cluster a blocking command holds its node connection).
 */
export class ShardWorker {
  readonly consumer: Consumer;
  readonly claimer: Claimer;
  readonly trimmer: Trimmer;
  /**
   * When this shard's consumer last got entries off its hands (applied, dead-lettered, or found
   * done by another consumer), or was created: with entries pending on it, an old value means it
   * is stuck (ep_consumer_last_progress_timestamp_seconds).
   */
  lastProgress = new Date();

  constructor(
    readonly shard: number,
    /** This shard's consumer settings: `stream` is the shard's stream. */
    readonly config: ConsumerConfig,
    commands: RedisClient,
    readonly blocking: RedisClient,
    tally: ApplyTally,
    log: FastifyBaseLogger,
  ) {
    const zones = new SiteZones(commands, config.stream);
    const applier = new Applier(commands, { ...config, zones, tally, log, onProgress: () => (this.lastProgress = new Date()) });
    this.consumer = new Consumer(blocking, commands, applier, config, log);
    // Claimed entries that could not be applied belong to this consumer now: its loop re-reads them.
    this.claimer = new Claimer(commands, applier, config, log, () => this.consumer.schedulePendingRetry());
    this.trimmer = new Trimmer(commands, config.stream, config.trimIntervalMs, log, config.liveRetentionS);
  }

  start() {
    this.consumer.start();
    this.claimer.start();
    this.trimmer.start();
  }

  /** Safe to call twice. */
  async stop() {
    await Promise.all([this.consumer.stop(), this.claimer.stop(), this.trimmer.stop()]);
  }
}
