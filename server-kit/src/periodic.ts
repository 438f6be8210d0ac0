import type { FastifyBaseLogger } from 'fastify';

export interface PeriodicOptions {
  /** Run once at start() too, instead of first after `intervalMs`. @default false */
  immediate?: boolean;
}

/**
 * Runs `task` every `intervalMs`, one run at a time (the next is scheduled when the last
 * ends, so a slow Redis cannot stack runs up). Errors are logged, never thrown. Its timer never
 * keeps a process alive on its own.
 */
export class Periodic {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<unknown> | null = null;
  private started = false;

  constructor(
    private readonly name: string,
    /** 0 turns the task off. */
    private readonly intervalMs: number,
    private readonly task: () => Promise<unknown>,
    private readonly log: FastifyBaseLogger,
    private readonly options: PeriodicOptions = {},
  ) {}

  /** Safe to call twice. */
  start() {
    if (this.started || this.intervalMs === 0) return;
    this.started = true;
    if (this.options.immediate) this.run();
    else this.schedule();
  }

  get running() {
    return this.started;
  }

  /** Safe to call twice; waits for a run in progress. */
  async stop() {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private schedule() {
    if (!this.started) return;
    this.timer = setTimeout(() => this.run(), this.intervalMs);
    this.timer.unref();
  }

  private run() {
    this.inFlight = this.task()
      .catch((err: Error) => this.log.warn({ err: err.message }, `${this.name} failed`))
      .finally(() => {
        this.inFlight = null;
        this.schedule();
      });
  }
}
