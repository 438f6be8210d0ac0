import { Periodic, type RedisClient } from '@energy-pipeline/server-kit';
import type { FastifyBaseLogger } from 'fastify';
import { TrimStream } from './trim-stream.js';

/**
 * Trims the stream in the background, only below the oldest entry every group has
 * acknowledged (lua/trim-stream.lua), so an unprocessed entry is never removed however far a
 * consumer lags, and never within the last `retentionS` seconds, which the live side replays to
 * subscribers that reconnect. Ingest never trims: it cannot know what was processed.
 */
export class Trimmer {
  private readonly periodic: Periodic;
  private readonly script: TrimStream;
  /** Entries removed by this process since it started. */
  trimmed = 0;

  constructor(
    redis: RedisClient,
    private readonly stream: string,
    /** How often to trim; 0 turns trimming off. */
    intervalMs: number,
    private readonly log: FastifyBaseLogger,
    /** Entries younger than this stay, acknowledged or not (LIVE_RETENTION_S). @default 0 */
    private readonly retentionS = 0,
  ) {
    this.periodic = new Periodic('trim', intervalMs, () => this.trim(), log);
    this.script = new TrimStream(redis);
  }

  start() {
    this.periodic.start();
  }

  /** Safe to call twice; waits for a trim in progress. */
  async stop() {
    await this.periodic.stop();
  }

  /** Trims once; returns how many entries went. */
  async trim(): Promise<number> {
    const removed = await this.script.run(this.stream, { keepMs: this.retentionS * 1000 });
    this.trimmed += removed;
    if (removed > 0) this.log.debug({ removed }, 'trimmed stream');
    return removed;
  }
}
