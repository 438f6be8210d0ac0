import { describe, expect, it } from 'vitest';
import { cycles } from '../../scripts/check-cycles.js';

describe('the import-cycle check', () => {
  it('finds every cycle, a module importing itself included, and nothing in a tree', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['e']],
      ['f', ['d']],
    ]);
    expect(cycles(graph)).toEqual(expect.arrayContaining([['a', 'b', 'c'], ['e']]));
    expect(cycles(graph)).toHaveLength(2);
    expect(cycles(new Map([['x', ['y']], ['y', []]]))).toEqual([]);
  });
});
