import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { closeRedis, createRedis, waitReady } from '@energy-pipeline/contract/server';
import type { ProcessConfig } from './config.js';
import { Applier } from './applier.js';
import { Claimer } from './claimer.js';
import { SiteZones } from './site-zones.js';
import { Consumer } from './consumer.js';
import { defineScripts } from './scripts.js';
import { Trimmer } from './trimmer.js';

/** What the processor's HTTP server reports about the worker. */
export interface WorkerStatus {
  running: boolean;
  lastActivity: Date | null;
  /** Entries this process applied since it started. */
  processed: number;
  deadLettered: number;
  trimmed: number;
  watchdogTrips: number;
}

/**
 * The consumer-group worker: a read loop, a claimer and a trimmer sharing one applier, on
 * two connections (a blocking one for XREADGROUP … BLOCK, a command one for the rest).
 */
export class ProcessWorker {
  readonly commands: Redis;
  readonly blocking: Redis;
  readonly consumer: Consumer;
  readonly claimer: Claimer;
  readonly trimmer: Trimmer;
  private processed = 0;
  private deadLettered = 0;
  private closed = false;

  constructor(
    readonly config: ProcessConfig,
    private readonly log: FastifyBaseLogger,
  ) {
    const { url, commandTimeoutMs } = config.redis;
    const c = config.consumer;
    this.commands = defineScripts(createRedis({ url, role: 'commands', name: `ep-process-${c.name}`, commandTimeoutMs }));
    this.blocking = createRedis({ url, role: 'blocking', name: `ep-process-${c.name}-reader` });
    const applier = new Applier(this.commands, {
      ...c,
      zones: new SiteZones(this.commands, c.stream),
      log,
      onApplied: (r) => {
        this.processed += r.applied;
        this.deadLettered += r.deadLettered;
        // Entries that failed (claimed ones included) are now ours: re-read them later.
        if (r.failed.length > 0) this.consumer.schedulePendingRetry();
      },
    });
    this.consumer = new Consumer(this.blocking, this.commands, applier, c, log);
    this.claimer = new Claimer(this.commands, applier, c, log);
    this.trimmer = new Trimmer(this.commands, c.stream, c.trimIntervalMs, log, c.liveRetentionS);
  }

  /** Resolves when both connections are up, or rejects after `timeoutMs`. */
  async ready(timeoutMs = 5_000) {
    await Promise.all([waitReady(this.commands, timeoutMs), waitReady(this.blocking, timeoutMs)]);
  }

  start() {
    if (this.closed) throw new Error('worker is closed');
    this.consumer.start();
    this.claimer.start();
    this.trimmer.start();
  }

  /**
   * Stops reading, claiming and trimming; finishes what it holds; then leaves the group if it
   * holds nothing, so a replica scaled away does not linger in XINFO CONSUMERS. Safe to call twice.
   */
  async stop() {
    const wasRunning = this.consumer.running;
    await Promise.all([this.consumer.stop(), this.claimer.stop(), this.trimmer.stop()]);
    if (!wasRunning) return;
    const { stream, group, name } = this.config.consumer;
    try {
      const left = await this.commands.leaveGroup(stream, group, name);
      this.log.info({ consumer: name, left: left === 1 }, left ? 'left the group' : 'still holds entries; stays in the group');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not leave the group');
    }
  }

  /** Stops, then closes both connections; safe to call twice. */
  async close() {
    await this.stop();
    if (this.closed) return;
    this.closed = true;
    await Promise.all([closeRedis(this.commands), closeRedis(this.blocking)]);
  }

  status(): WorkerStatus {
    return {
      running: this.consumer.running,
      lastActivity: this.consumer.lastActivity,
      processed: this.processed,
      deadLettered: this.deadLettered,
      trimmed: this.trimmer.trimmed,
      watchdogTrips: this.consumer.watchdogTrips,
    };
  }
}
