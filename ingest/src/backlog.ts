import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { isMissingStreamOrGroup, xinfoRecord } from '@energy-pipeline/contract/server';


/**
 * The consumer group's backlog (entries not yet delivered, plus delivered and not acknowledged),
 * read from XINFO GROUPS in the background every `intervalMs` so that a request only looks at a
 * number. Without a group yet, the whole stream is backlog: the processor creates its group at
 * the start of the stream. When Redis cannot compute the lag (nil after some deletions), the
 * backlog counts pending entries only rather than guess.
 */
export class BacklogMonitor {
  private timer: NodeJS.Timeout | null = null;
  /** The last backlog read; null until one succeeded. */
  value: number | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly group: string,
    private readonly intervalMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Safe to call twice. */
  start() {
    if (this.timer) return;
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.refresh().finally(() => {
          if (this.timer) tick();
        });
      }, this.intervalMs);
      this.timer.unref();
    };
    tick();
    void this.refresh();
  }

  /** Safe to call twice. */
  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  async refresh(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      const [groups, length] = await Promise.all([
        (this.redis.call('XINFO', 'GROUPS', this.stream) as Promise<unknown[][]>).catch((err: Error) => {
          if (isMissingStreamOrGroup(err)) return [];
          throw err;
        }),
        this.redis.xlen(this.stream),
      ]);
      const info = groups.map(xinfoRecord).find((g) => g.name === this.group);
      if (!info) this.value = length;
      else this.value = Number(info.pending) + (info.lag === null || info.lag === undefined ? 0 : Number(info.lag));
    } catch (err) {
      // Keep the last value: an unreachable Redis is answered with 503 on its own.
      this.log.debug({ err: (err as Error).message }, 'backlog not read');
    }
  }
}
