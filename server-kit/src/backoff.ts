/**
 * A doubling delay for a retry loop inside one process: `initialMs` after the first failure,
 * twice the last delay after each further one, at most `maxMs`; `reset()` once it succeeds. No
 * jitter: one loop has no fleet of peers to spread, and a steady delay reads better in logs.
 */
export class Backoff {
  private currentMs = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /** The delay before the next attempt, which grows the one after it. */
  next(): number {
    this.currentMs = Math.min(Math.max(this.currentMs * 2, this.initialMs), this.maxMs);
    return this.currentMs;
  }

  /** Back to `initialMs` for the next failure. */
  reset(): void {
    this.currentMs = 0;
  }
}
