/**
 * Per-device sequence numbers (`seq`). The server keeps, per device, a high-water mark and a
 * bounded list of gaps, and answers a seq it has seen as a duplicate however late it comes: a
 * number handed out twice loses the second reading. So a number, once possibly used, is never
 * handed out again, across restarts and crashes too.
 */

/**
 * Durable storage of reservation marks (a file spool is one: `openSpool(dir)`). Hi/lo scheme: a
 * mark promises that no number at or above it was ever handed out for the device. The sequencer
 * reserves a block before handing out its first number, and a restart starts at the mark, so a
 * crash at any point skips numbers but never reuses one.
 */
export interface SequenceStore {
  /** The marks persisted by earlier runs, by device. */
  marks(): Iterable<readonly [siteId: string, deviceId: string, mark: number]>;
  /**
   * Durably raises the device's mark to at least `from + block` and returns the new mark; returns
   * only once the mark would survive a crash or a power cut (fsync).
   */
  reserve(siteId: string, deviceId: string, from: number): number;
}

interface Counter {
  next: number;
  /** Numbers below this are reserved; `Infinity` without a store. */
  mark: number;
}

/** A site id and a device id never contain `/` (it separates key names), so this key is unique. */
const keyOf = (siteId: string, deviceId: string) => `${siteId}/${deviceId}`;

/**
 * Where a device's counter starts without a persisted mark: the clock in microseconds, so that a
 * restarted process continues above its last run as long as the clock did not go back and no
 * device sent a million readings a second. `Date.now() * 1000`, plus the sub-millisecond part of
 * `performance.now()` where there is one, so that two one-shot processes (CLI sends) for one
 * device in the same millisecond are unlikely to start at the same number.
 */
export function clockMicros(): number {
  const subMs = typeof performance === 'undefined' ? 0 : Math.floor((performance.now() % 1) * 1000);
  return Date.now() * 1000 + subMs;
}

/**
 * Hands out each device's numbers in the order asked for. Without a store a device starts at
 * the clock ({@link clockMicros}); with one it starts at the mark of the last run (or the clock for a device
 * the store has not seen).
 */
export class Sequencer {
  private readonly counters = new Map<string, Counter>();
  private persisted = new Map<string, number>();
  private store: SequenceStore | undefined;

  /** @param now the clock, in microseconds */
  constructor(private readonly now: () => number = clockMicros) {}

  /**
   * Persists this sequencer's counters in `store` from now on. Numbers already handed out in
   * this process are kept below the new start, so attaching late is safe too.
   */
  attach(store: SequenceStore): void {
    if (this.store === store) return;
    if (this.store) throw new Error('This client already numbers its readings in another spool; use one client per spool');
    this.store = store;
    this.persisted = new Map();
    for (const [siteId, deviceId, mark] of store.marks()) this.persisted.set(keyOf(siteId, deviceId), mark);
    for (const [key, counter] of this.counters) {
      counter.next = Math.max(counter.next, this.persisted.get(key) ?? 0);
      counter.mark = counter.next; // the next number needs a reservation first
    }
  }

  /** The device's next number. */
  next(siteId: string, deviceId: string): number {
    const key = keyOf(siteId, deviceId);
    let counter = this.counters.get(key);
    if (!counter) {
      const start = this.persisted.get(key) ?? Math.floor(this.now());
      counter = { next: start, mark: this.store ? start : Number.POSITIVE_INFINITY };
      this.counters.set(key, counter);
    }
    if (counter.next > Number.MAX_SAFE_INTEGER) throw new RangeError(`seq of ${key} has run past 2^53 - 1`);
    if (counter.next >= counter.mark) {
      const mark = this.store!.reserve(siteId, deviceId, counter.next);
      if (!(mark > counter.next)) throw new Error(`The sequence store reserved nothing for ${key}`);
      counter.mark = mark;
    }
    return counter.next++;
  }
}
