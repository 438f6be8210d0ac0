import type { FastifyBaseLogger } from 'fastify';
import { closeRedis, createRedis, waitReady, type RedisClient } from '@energy-pipeline/server-kit';
import type { ApplyTally } from './applier.js';
import type { ProcessConfig } from '../config/config.js';
import { LeaveGroup } from './leave-group.js';
import { ShardWorker } from './shard-worker.js';

/** What the processor's HTTP server reports about the worker. */
export interface WorkerStatus {
  /** Every shard's read loop runs. */
  running: boolean;
  /** When any shard's loop last read from or acknowledged on its stream. */
  lastActivity: Date | null;
  /** Readings this process applied since it started. */
  applied: number;
  trimmed: number;
  watchdogTrips: number;
}

/**
 * The consumer-group worker: one ShardWorker for each shard this replica reads (PROCESS_SHARDS,
 * every shard by default), sharing one command connection, each with a blocking connection of
 * its own for XREADGROUP … BLOCK.
 */
export class ProcessWorker {
  private readonly commands: RedisClient;
  private readonly shards: ShardWorker[];
  private readonly tally: ApplyTally = { applied: 0, deadLettered: 0 };
  private closed = false;

  constructor(
    readonly config: ProcessConfig,
    private readonly log: FastifyBaseLogger,
  ) {
    const { url, clusterNodes, commandTimeoutMs, streams } = config.redis;
    const c = config.consumer;
    this.commands = createRedis({ url, clusterNodes, role: 'commands', name: `ep-process-${c.name}`, commandTimeoutMs, log });
    this.shards = config.shards.map((shard) => {
      const blocking = createRedis({ url, clusterNodes, role: 'blocking', name: `ep-process-${c.name}-reader-${shard}` });
      const shardLog = streams.length > 1 ? log.child({ shard }) : log;
      return new ShardWorker(shard, { ...c, stream: streams[shard]! }, this.commands, blocking, this.tally, shardLog);
    });
  }

  /** Times the worker's commands (metrics plugin): `instrument` wraps its command connection. */
  instrumentRedis(instrument: (redis: RedisClient, connection: string) => unknown) {
    instrument(this.commands, 'worker');
  }

  /**
   * When this replica's consumer of `shard` last got entries off its hands (applied,
   * dead-lettered, or found done by another consumer), or started; null for a shard it does not read.
   */
  lastProgress(shard: number): Date | null {
    return this.shards.find((s) => s.shard === shard)?.lastProgress ?? null;
  }

  /** Trims every shard's stream once, now (the trimmer does it every TRIM_INTERVAL_MS); returns the entries removed. */
  async trimOnce(): Promise<number> {
    const removed = await Promise.all(this.shards.map((s) => s.trimmer.trim()));
    return removed.reduce((a, b) => a + b, 0);
  }

  /** Removes other consumers that hold nothing and have been idle past CONSUMER_IDLE_DELETE_MS, on every shard; returns how many. */
  async removeIdleConsumers(): Promise<number> {
    const removed = await Promise.all(this.shards.map((s) => s.claimer.removeIdleConsumers()));
    return removed.reduce((a, b) => a + b, 0);
  }

  /** Resolves when every connection is up, or rejects after `timeoutMs`. */
  async ready(timeoutMs = 5_000) {
    await Promise.all([waitReady(this.commands, timeoutMs), ...this.shards.map((s) => waitReady(s.blocking, timeoutMs))]);
  }

  start() {
    if (this.closed) throw new Error('worker is closed');
    for (const s of this.shards) s.start();
  }

  /**
   * Stops reading, claiming and trimming; finishes what it holds; then leaves the group on every
   * shard where it holds nothing, so a replica scaled away does not linger in XINFO CONSUMERS.
   * Safe to call twice.
   */
  async stop() {
    const wasRunning = this.shards.some((s) => s.consumer.running);
    await Promise.all(this.shards.map((s) => s.stop()));
    if (!wasRunning) return;
    const { group, name } = this.config.consumer;
    for (const s of this.shards) {
      try {
        const left = await new LeaveGroup(this.commands).run(s.config.stream, { group, consumer: name });
        this.log.info({ consumer: name, stream: s.config.stream, left: left === 1 }, left ? 'left the group' : 'still holds entries; stays in the group');
      } catch (err) {
        this.log.warn({ err: (err as Error).message, stream: s.config.stream }, 'could not leave the group');
      }
    }
  }

  /** Stops, then closes every connection; safe to call twice. */
  async close() {
    await this.stop();
    if (this.closed) return;
    this.closed = true;
    await Promise.all([closeRedis(this.commands), ...this.shards.map((s) => closeRedis(s.blocking))]);
  }

  status(): WorkerStatus {
    const activities = this.shards.map((s) => s.consumer.lastActivity?.getTime() ?? 0);
    const last = Math.max(0, ...activities);
    return {
      running: this.shards.length > 0 && this.shards.every((s) => s.consumer.running),
      lastActivity: last > 0 ? new Date(last) : null,
      applied: this.tally.applied,
      trimmed: this.shards.reduce((n, s) => n + s.trimmer.trimmed, 0),
      watchdogTrips: this.shards.reduce((n, s) => n + s.consumer.watchdogTrips, 0),
    };
  }
}
