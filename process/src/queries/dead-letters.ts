import type { z } from 'zod';
import { DeadLetterReasonSchema, compareStreamIds } from '@energy-pipeline/contract';
import type { Shards } from './shards.js';
import { fieldsObject } from '@energy-pipeline/contract';
import type { RedisClient, RedisKeys } from '@energy-pipeline/server-kit';
import { ReplayDeadLetter } from './replay-dead-letter.js';

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
const BULK_LIMIT = 10_000;
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
  // `invalid`: what validation_failed was called before the error codes were one set.
  const reason = DeadLetterReasonSchema.safeParse(f.reason === 'invalid' ? 'validation_failed' : f.reason);
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

/**
 * Lists, replays and deletes entries in the dead-letter streams, one per shard. A shard's dead
 * letters replay into its own stream: their sites map to it.
 */
export class DeadLetters {
  private readonly replayScript: ReplayDeadLetter;

  constructor(
    private readonly redis: RedisClient,
    private readonly shards: Shards,
  ) {
    this.replayScript = new ReplayDeadLetter(redis);
  }

  /** One page of matching dead letters after `after`, oldest first, across every shard. */
  async list(filter: DeadLetterFilter, limit: number, after?: string) {
    const pages = await Promise.all(this.shards.all.map(({ keys }) => this.listIn(keys, filter, limit, after)));
    const merged = pages.flatMap((p) => p.items).sort((a, b) => compareStreamIds(a.id, b.id));
    const items = merged.slice(0, limit);
    const more = merged.length > limit || pages.some((p) => p.more);
    return { items, next: more && items.length > 0 ? items[items.length - 1]!.id : null };
  }

  /** Up to `limit` matches in one shard after `after`, and whether there are more. */
  private async listIn(keys: RedisKeys, filter: DeadLetterFilter, limit: number, after?: string) {
    const items: DeadLetter[] = [];
    let cursor = after ? `(${after}` : '-';
    for (;;) {
      const page = (await this.redis.xrange(keys.deadLetters, cursor, '+', 'COUNT', PAGE)).map(parse);
      for (const d of page) {
        if (!matches(d, filter)) continue;
        items.push(d);
        if (items.length === limit) return { items, more: true };
      }
      if (page.length < PAGE) return { items, more: false };
      cursor = `(${page[page.length - 1]!.id}`;
    }
  }

  /** The dead letter `id` and the shard that holds it; null when none does. */
  async get(id: string): Promise<{ letter: DeadLetter; keys: RedisKeys } | null> {
    const found = await Promise.all(this.shards.all.map(({ keys }) => this.redis.xrange(keys.deadLetters, id, id)));
    const at = found.findIndex((entries) => entries.length > 0);
    return at < 0 ? null : { letter: parse(found[at]![0]!), keys: this.shards.all[at]!.keys };
  }

  /** Puts one dead letter back into its shard's stream; null when there is no such dead letter. */
  async replay(id: string): Promise<string | null> {
    const found = await this.get(id);
    if (!found || Object.keys(found.letter.fields).length === 0) return null;
    return this.replayIn(found.keys, found.letter);
  }

  async replayMatching(filter: DeadLetterFilter) {
    const ids: string[] = [];
    for (const { keys } of this.shards.all) {
      const { items } = await this.listIn(keys, filter, BULK_LIMIT);
      for (const d of items) {
        if (Object.keys(d.fields).length === 0) continue;
        const id = await this.replayIn(keys, d);
        if (id) ids.push(id);
      }
    }
    return ids;
  }

  async delete(id: string): Promise<number> {
    const deleted = await Promise.all(this.shards.all.map(({ keys }) => this.redis.xdel(keys.deadLetters, id)));
    return deleted.reduce((a, b) => a + b, 0);
  }

  async deleteMatching(filter: DeadLetterFilter): Promise<number> {
    let deleted = 0;
    for (const { keys } of this.shards.all) {
      const { items } = await this.listIn(keys, filter, BULK_LIMIT);
      if (items.length > 0) deleted += await this.redis.xdel(keys.deadLetters, ...items.map((d) => d.id));
    }
    return deleted;
  }

  private replayIn(keys: RedisKeys, d: DeadLetter) {
    return this.replayScript.run(keys, { id: d.id, fields: d.fields });
  }
}
