import { describe, expect, it } from 'vitest';
import { Backoff } from '@energy-pipeline/server-kit';

describe('Backoff', () => {
  it('starts at initialMs, doubles up to maxMs, and starts over after reset()', () => {
    const backoff = new Backoff(100, 1_000);
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });
});
