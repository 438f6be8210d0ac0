/**
 * Positions in the readings stream(s), which the live side uses as tRPC event ids
 * (contract/src/live-schemas.ts, LivePositionSchema). A position holds one mark per shard stream:
 * the id of an entry, and either the whole entry (`ord` null) or its readings up to index `ord`.
 */
export interface Mark {
  ms: bigint;
  seq: bigint;
  /** Readings of the entry up to this index are included; null: the whole entry. */
  ord: number | null;
}

export type Position = Mark[];

export function markOf(entryId: string, ord: number | null = null): Mark {
  const dash = entryId.indexOf('-');
  return { ms: BigInt(entryId.slice(0, dash)), seq: BigInt(entryId.slice(dash + 1)), ord };
}

export const entryIdOf = (m: Mark) => `${m.ms}-${m.seq}`;

export function formatPosition(position: Position): string {
  return position.map((m) => (m.ord === null ? entryIdOf(m) : `${entryIdOf(m)}.${m.ord}`)).join(',');
}

/** Parses an id the schema accepted; null when it has another number of shards than `shards`. */
export function parsePosition(text: string, shards: number): Position | null {
  const parts = text.split(',');
  if (parts.length !== shards) return null;
  return parts.map((part) => {
    const [id, ord] = part.split('.');
    return markOf(id!, ord === undefined ? null : Number(ord));
  });
}

/** Compares two marks of one shard: -1, 0 or 1. A whole entry comes after any of its readings. */
export function compareMarks(a: Mark, b: Mark): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  const ao = a.ord ?? Number.POSITIVE_INFINITY;
  const bo = b.ord ?? Number.POSITIVE_INFINITY;
  return ao === bo ? 0 : ao < bo ? -1 : 1;
}

/** Whether the reading at index `ord` of entry `entryId` comes after `mark`. */
export function isAfter(mark: Mark, entryId: string, ord: number): boolean {
  return compareMarks(markOf(entryId, ord), mark) > 0;
}

/** The entry id just before which XRANGE should start to find what comes after `mark` (inclusive when the entry is partly read). */
export function rangeStart(mark: Mark): string {
  return mark.ord === null ? `(${entryIdOf(mark)}` : entryIdOf(mark);
}

/** The later mark of each shard. */
export const laterOf = (a: Position, b: Position): Position => a.map((m, i) => (compareMarks(m, b[i]!) >= 0 ? m : b[i]!));

/** Whether every mark of `a` is at or after the one of `b`. */
export const covers = (a: Position, b: Position) => a.every((m, i) => compareMarks(m, b[i]!) >= 0);
