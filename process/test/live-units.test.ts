import { describe, expect, it } from 'vitest';
import { compareMarks, formatPosition, isAfter, markOf, parsePosition } from '../src/live/position.js';
import { LiveEndError, SubscriberQueue } from '../src/live/subscriber-queue.js';
import { seedIntervals, UsualInterval } from '../src/live/usual-interval.js';

describe('subscriber queue', () => {
  it('keeps only the newest snapshot for a slow reader, in order, and readings up to its bound', async () => {
    const q = new SubscriberQueue<string>(5);
    q.push({ id: '1-0', data: 'snapshot 1', weight: 1, replaces: 'snapshot' });
    q.push({ id: '2-0', data: 'readings a', weight: 2 });
    q.push({ id: '3-0', data: 'snapshot 2', weight: 1, replaces: 'snapshot' });
    expect(q.size).toBe(2);
    const controller = new AbortController();
    const seen: string[] = [];
    for await (const e of q.drain(controller.signal)) {
      seen.push(e.data);
      if (seen.length === 2) controller.abort();
    }
    // Ids stay in order: the newer snapshot goes after the readings queued before it.
    expect(seen).toEqual(['readings a', 'snapshot 2']);
  });

  it('ends with slow_consumer past its bound, holding nothing', async () => {
    const q = new SubscriberQueue<string>(3);
    expect(q.push({ id: '1-0', data: 'a', weight: 2 })).toBe(true);
    expect(q.push({ id: '2-0', data: 'b', weight: 2 })).toBe(false);
    expect(q.size).toBe(0);
    expect(q.push({ id: '3-0', data: 'c', weight: 1 })).toBe(false);
    const next = q.drain(new AbortController().signal).next();
    await expect(next).rejects.toBeInstanceOf(LiveEndError);
    await expect(next).rejects.toMatchObject({ reason: 'slow_consumer' });
  });
});

describe('positions', () => {
  it('round-trip per shard and order a batch entry\'s readings before the whole entry', () => {
    const p = parsePosition('1700000000000-0.41,1700000000001-3', 2)!;
    expect(formatPosition(p)).toBe('1700000000000-0.41,1700000000001-3');
    expect(parsePosition('1-0', 2)).toBeNull();
    expect(compareMarks(markOf('9-0'), markOf('10-0'))).toBe(-1);
    expect(compareMarks(markOf('10-0', 3), markOf('10-0'))).toBe(-1);
    expect(isAfter(markOf('10-0', 3), '10-0', 4)).toBe(true);
    expect(isAfter(markOf('10-0', 3), '10-0', 3)).toBe(false);
    expect(isAfter(markOf('10-0'), '10-0', 999)).toBe(false);
  });
});

describe('usual interval', () => {
  it('is the median of the last gaps between measurement times, ignoring late and repeated readings', () => {
    const u = new UsualInterval(60);
    expect(u.seconds).toBe(60); // seeded until three gaps are seen
    for (const t of [0, 10_000, 20_000, 20_000, 15_000, 30_000, 100_000, 110_000]) u.observe(t);
    // gaps 10, 10, 10, 70, 10: a missed stretch barely moves the median
    expect(u.seconds).toBe(10);
  });

  it('estimates from hour buckets: readings per device over the hours it reported in', () => {
    const h = (startMs: number, counts: Record<string, number>) => ({
      startMs,
      spanS: 3600,
      hash: Object.fromEntries(Object.entries(counts).map(([d, c]) => [`c:${d}`, String(c)])),
    });
    const seeds = seedIntervals([h(0, { fast: 360, hourly: 1 }), h(3_600_000, { fast: 360, hourly: 1, once: 1 })], 7_200_000);
    expect(seeds.get('fast')).toBe(10);
    expect(seeds.get('hourly')).toBe(3600);
    expect(seeds.has('once')).toBe(false);
  });
});
