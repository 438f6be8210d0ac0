import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { closeRedis, createRedis } from '@energy-pipeline/contract/server';
import type { ProcessConfig } from './config.js';
import { Applier } from './applier.js';
import { Claimer } from './claimer.js';
import { Consumer } from './consumer.js';
import { defineScripts } from './scripts.js';

/** What the processor's HTTP server reports about the worker. */
export interface WorkerStatus {
  running: boolean;
  lastActivity: Date | null;
  processed: number;
  invalid: number;
}

/**
 * The consumer-group worker: a read loop and a claimer sharing one applier, on two
 * connections (a blocking one for XREADGROUP, a command one for scripts and claims).
 */
export class ProcessWorker {
  readonly commands: Redis;
  readonly blocking: Redis;
  readonly consumer: Consumer;
  readonly claimer: Claimer;
  private processed = 0;
  private invalid = 0;
  private closed = false;

  constructor(
    readonly config: ProcessConfig,
    log: FastifyBaseLogger,
  ) {
    const { url, commandTimeoutMs } = config.redis;
    const c = config.consumer;
    this.commands = defineScripts(createRedis({ url, role: 'commands', name: `ep-process-${c.name}`, commandTimeoutMs }));
    this.blocking = createRedis({ url, role: 'blocking', name: `ep-process-${c.name}-reader` });
    const applier = new Applier(this.commands, c.stream, c.group, log, (r) => {
      this.processed += r.applied;
      this.invalid += r.invalid;
    });
    this.consumer = new Consumer(this.blocking, this.commands, applier, c, log);
    this.claimer = new Claimer(this.commands, applier, c, log);
  }

  start() {
    if (this.closed) throw new Error('worker is closed');
    this.consumer.start();
    this.claimer.start();
  }

  /** Stops reading and claiming, finishing the batch in hand; safe to call twice. */
  async stop() {
    await Promise.all([this.consumer.stop(), this.claimer.stop()]);
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
      invalid: this.invalid,
    };
  }
}
