/** One queued event: its tracked id (null: untracked) and its payload. */
export interface QueuedEvent<T> {
  id: string | null;
  data: T;
  /** What it counts against the queue's bound: readings it holds, or 1. */
  weight: number;
  /** A later event with the same key replaces it (a newer snapshot makes the older one worthless). */
  replaces?: string | undefined;
}

/** Ends a subscription; its `reason` goes to the client (see router.ts). */
export class LiveEndError extends Error {
  constructor(
    readonly reason: 'slow_consumer' | 'shutting_down',
    message: string,
  ) {
    super(message);
  }
}

/**
 * One subscriber's events between the hub (which pushes them as the stream is read) and its SSE
 * response (which pulls them as fast as the client's connection takes them). Bounded: a snapshot
 * replaces the one still queued, so a slow client skips to the newest figures; readings are never
 * skipped silently, so when more than `maxWeight` readings wait, the subscriber is dropped with
 * `slow_consumer`. Its client then reconnects with the last event id it got and resumes from the
 * stream, which holds what it missed (up to LIVE_RETENTION_S): memory stays bounded per
 * subscriber whatever the client does.
 */
export class SubscriberQueue<T> {
  private readonly items: QueuedEvent<T>[] = [];
  private weight = 0;
  private ended: LiveEndError | null = null;
  private wake: (() => void) | null = null;

  constructor(
    /** Most readings (or events) waiting. */
    private readonly maxWeight: number,
  ) {}

  get size() {
    return this.items.length;
  }

  get closed() {
    return this.ended !== null;
  }

  /** Queues an event; returns false (and ends the queue) when that takes it past its bound. */
  push(event: QueuedEvent<T>): boolean {
    if (this.ended) return false;
    if (event.replaces !== undefined) {
      const old = this.items.findIndex((e) => e.replaces === event.replaces);
      if (old >= 0) this.weight -= this.items.splice(old, 1)[0]!.weight;
    }
    this.items.push(event);
    this.weight += event.weight;
    if (this.weight > this.maxWeight) {
      this.end(new LiveEndError('slow_consumer', `More than ${this.maxWeight} readings waited for this client; reconnect to resume from the last event`));
      return false;
    }
    this.wake?.();
    return true;
  }

  /** Ends the queue: what is queued is dropped and the reader gets `reason` next. */
  end(reason: LiveEndError) {
    if (this.ended) return;
    this.ended = reason;
    this.items.length = 0;
    this.weight = 0;
    this.wake?.();
  }

  /** The events in order until the queue ends (throws its reason) or `signal` aborts (returns). */
  async *drain(signal: AbortSignal): AsyncGenerator<QueuedEvent<T>> {
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        if (this.ended) throw this.ended;
        const next = this.items.shift();
        if (next) {
          this.weight -= next.weight;
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
