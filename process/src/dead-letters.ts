import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { DeadLetterReasonSchema } from '@energy-pipeline/contract';
import { fieldsObject, type RedisKeys } from '@energy-pipeline/contract/server';

type Reason = z.infer<typeof DeadLetterReasonSchema>;

export interface DeadLetterFilter {
  reason?: Reason | undefined;
  site_id?: string | undefined;
  device_id?: string | undefined;
}

export interface DeadLetter {
  id: string;
  original_id: string;
  index?: number;
  reason: Reason;
  detail: string;
  deliveries: number;
  failed_at: string;
  fields: Record<string, string>;
}

/** Most dead letters one replay or delete request handles; call again for the rest. */
export const BULK_LIMIT = 10_000;
const PAGE = 500;

function parse([id, flat]: [string, string[]]): DeadLetter {
  const f = fieldsObject(flat);
  let fields: Record<string, string> = {};
  try {
    // Values as the stream holds them: strings (a batch reading's JSON has numbers).
    fields = Object.fromEntries(Object.entries(JSON.parse(f.fields ?? '{}') as object).map(([k, v]) => [k, String(v)]));
  } catch {
    // A dead letter written by something else: show it without its fields.
  }
  const reason = DeadLetterReasonSchema.safeParse(f.reason);
  return {
    id,
    original_id: f.original_id ?? '',
    ...(f.index !== undefined ? { index: Number(f.index) } : {}),
    reason: reason.success ? reason.data : 'max_deliveries',
    detail: f.detail ?? '',
    deliveries: Number(f.deliveries ?? 0),
    failed_at: new Date(Number(f.failed_at ?? 0)).toISOString(),
    fields,
  };
}

const matches = (d: DeadLetter, f: DeadLetterFilter) =>
  (!f.reason || d.reason === f.reason) &&
  (!f.site_id || d.fields.site_id === f.site_id) &&
  (!f.device_id || d.fields.device_id === f.device_id);

/** Lists, replays and deletes entries in the dead-letter stream. */
export class DeadLetters {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** One page of matching dead letters after `after`, oldest first. */
  async list(filter: DeadLetterFilter, limit: number, after?: string) {
    const items: DeadLetter[] = [];
    let cursor = after ? `(${after}` : '-';
    for (;;) {
      const page = (await this.redis.xrange(this.keys.deadLetters, cursor, '+', 'COUNT', PAGE)).map(parse);
      for (const d of page) {
        if (!matches(d, filter)) continue;
        items.push(d);
        if (items.length === limit) return { items, next: d.id };
      }
      if (page.length < PAGE) return { items, next: null };
      cursor = `(${page[page.length - 1]!.id}`;
    }
  }

  async get(id: string): Promise<DeadLetter | null> {
    const [entry] = await this.redis.xrange(this.keys.deadLetters, id, id);
    return entry ? parse(entry) : null;
  }

  /** Puts one dead letter back into the main stream; null when there is no such dead letter. */
  async replay(id: string): Promise<string | null> {
    const d = await this.get(id);
    if (!d || Object.keys(d.fields).length === 0) return null;
    return this.redis.replayDeadLetter(this.keys.stream, this.keys.deadLetters, id, ...Object.entries(d.fields).flat());
  }

  async replayMatching(filter: DeadLetterFilter) {
    const { items } = await this.list(filter, BULK_LIMIT);
    const ids: string[] = [];
    for (const d of items) {
      if (Object.keys(d.fields).length === 0) continue;
      const id = await this.redis.replayDeadLetter(this.keys.stream, this.keys.deadLetters, d.id, ...Object.entries(d.fields).flat());
      if (id) ids.push(id);
    }
    return ids;
  }

  async delete(id: string): Promise<number> {
    return this.redis.xdel(this.keys.deadLetters, id);
  }

  async deleteMatching(filter: DeadLetterFilter): Promise<number> {
    const { items } = await this.list(filter, BULK_LIMIT);
    if (items.length === 0) return 0;
    return this.redis.xdel(this.keys.deadLetters, ...items.map((d) => d.id));
  }
}
