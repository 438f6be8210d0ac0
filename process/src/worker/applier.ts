import type { FastifyBaseLogger } from 'fastify';
import { ReplyError } from 'ioredis';
import { decodeEntry, fieldsObject, type EntryContent } from '@energy-pipeline/contract';
import { redisKeys, type RedisKeys, type RedisClient } from '@energy-pipeline/server-kit';
import { bucketsOf, type Retention } from '../queries/buckets.js';
import { ApplyEntries, type ApplyReply, type Bad, type Payload } from './apply-entries.js';
import { type FoldedReading, foldEntry, type KeyInfo, toFolded } from './fold.js';
import type { SiteZones } from '../queries/site-zones.js';

/** A stream entry as XREADGROUP returns it; fields are null when the entry was deleted. */
export type StreamEntry = [id: string, fields: string[] | null];

export interface ApplyResult {
  /** Readings whose contribution this call applied. */
  applied: number;
  /** Entries, or readings of batch entries, this call moved to the dead-letter stream. */
  deadLettered: number;
  /** Entries another consumer had already acknowledged (or deleted from the stream). */
  skipped: number;
  /** Entries whose step failed; they stay pending and are delivered again. */
  failed: string[];
}

export interface ApplierOptions {
  stream: string;
  group: string;
  /** An entry delivered more often than this goes to the dead letters instead. @default 5 */
  maxDeliveries: number;
  retention: Retention;
  /** Where each site's time zone comes from, for its day and month buckets. */
  zones: SiteZones;
  log: FastifyBaseLogger;
  /** Running totals of what this applier did, for the worker's status. */
  tally?: ApplyTally;
  /** Called when a call got entries off this consumer's hands: applied, dead-lettered, or found done by another consumer. */
  onProgress?: () => void;
}

/** What applying has done since the process started. */
export interface ApplyTally {
  applied: number;
  deadLettered: number;
}

/**
 * Most readings one script call applies: a call blocks Redis while it runs (about a millisecond
 * per few hundred readings), and Lua's unpack() takes at most about 8000 values. An entry is never
 * split, so one larger batch entry gets a call of its own.
 */
const MAX_READINGS_PER_CALL = 2_000;

/**
 * Applies entries to the aggregates with one script call per batch (lua/apply-entries.lua): each
 * entry's effect and its XACK happen together, so a crash at any point leaves every entry either
 * applied-and-acknowledged or pending (to be delivered again), never applied twice. Entries that
 * fail validation, or that were delivered more than `maxDeliveries` times, go to the dead-letter
 * stream in the same call. When Redis refuses a call (a key of the wrong type, say), its entries
 * are retried one per call, so that one poisoned entry does not hold back the others.
 */
export class Applier {
  private readonly keys: RedisKeys;
  private readonly script: ApplyEntries;

  constructor(
    redis: RedisClient,
    private readonly options: ApplierOptions,
  ) {
    this.keys = redisKeys(options);
    this.script = new ApplyEntries(redis);
  }

  /** `deliveries` maps entry ids to their delivery counts; entries not in it were delivered once. */
  async apply(entries: readonly StreamEntry[], deliveries?: ReadonlyMap<string, number>): Promise<ApplyResult> {
    const result: ApplyResult = { applied: 0, deadLettered: 0, skipped: 0, failed: [] };
    if (entries.length === 0) return result;
    const now = Date.now();
    const decoded = entries.map(([, fields]) => (fields ? decodeEntry(fields) : null));
    const zones = await this.options.zones.zonesOf(sitesOf(decoded));
    const info = new Map<string, KeyInfo>();
    const payloads = entries.map((entry, i) => this.payload(entry, decoded[i]!, deliveries?.get(entry[0]) ?? 1, now, zones, info));
    for (const chunk of chunks(payloads)) {
      try {
        this.add(result, chunk, await this.call(chunk, now, info));
      } catch (err) {
        // Nothing went through: Redis is gone, not one bad entry. Let the caller back off.
        if (!(err instanceof ReplyError)) throw err;
        await this.applyOneByOne(chunk, now, info, result, err as Error);
      }
    }
    if (result.skipped > 0) {
      // Another consumer claimed and finished them while this one held them: harmless, but a
      // sign that CLAIM_MIN_IDLE_MS is close to how long this consumer takes.
      this.options.log.info({ skipped: result.skipped }, 'entries already acknowledged by another consumer');
    }
    const { tally } = this.options;
    if (tally) {
      tally.applied += result.applied;
      tally.deadLettered += result.deadLettered;
    }
    if (result.applied + result.deadLettered + result.skipped > 0) this.options.onProgress?.();
    return result;
  }

  private async applyOneByOne(chunk: Payload[], now: number, info: Map<string, KeyInfo>, result: ApplyResult, cause: Error) {
    if (chunk.length === 1) {
      result.failed.push(chunk[0]!.id);
      this.options.log.warn({ id: chunk[0]!.id, err: cause.message }, 'entry not processed; it stays pending');
      return;
    }
    for (const one of chunk) {
      try {
        this.add(result, [one], await this.call([one], now, info));
      } catch (err) {
        if (!(err instanceof ReplyError)) throw err;
        result.failed.push(one.id);
        this.options.log.warn({ id: one.id, err: (err as Error).message }, 'entry not processed; it stays pending');
      }
    }
  }

  /** One script call for `chunk` (apply-entries.ts encodes it). */
  private call(chunk: Payload[], now: number, info: Map<string, KeyInfo>) {
    return this.script.run(this.keys, { group: this.options.group, nowMs: now, entries: chunk, info });
  }

  private add(result: ApplyResult, chunk: Payload[], { outcomes, applied, deadLettered }: ApplyReply) {
    result.applied += applied;
    result.deadLettered += deadLettered;
    outcomes.forEach((outcome, i) => {
      if (outcome === 0 && !('deleted' in chunk[i]!)) result.skipped += 1;
    });
  }

  /** What the script needs of one entry: its readings folded into shares per key, or why it is dead. */
  private payload(
    [id, fields]: StreamEntry,
    content: EntryContent | null,
    count: number,
    now: number,
    zones: Map<string, string>,
    info: Map<string, KeyInfo>,
  ): Payload {
    // Deleted from the stream while pending: nothing left to apply.
    if (!fields || !content) return { id, deleted: true };
    const entryFields = () => JSON.stringify(fieldsObject(fields));
    if (count > this.options.maxDeliveries) {
      return { id, dead: ['max_deliveries', `delivered ${count} times without being processed`, count, entryFields()] };
    }
    if (!content.ok) return { id, dead: ['validation_failed', JSON.stringify(content.issues), count, entryFields()] };
    // A single-reading entry that is invalid goes whole; a batch keeps its valid readings.
    if (!content.batch && !content.items[0]!.ok) {
      return { id, dead: ['validation_failed', JSON.stringify(content.items[0]!.issues), count, entryFields()] };
    }
    const readings: FoldedReading[] = [];
    const bad: Bad[] = [];
    for (const item of content.items) {
      if (!item.ok) {
        bad.push([item.ord, 'validation_failed', JSON.stringify(item.issues), JSON.stringify(item.raw ?? null)]);
        continue;
      }
      const zone = zones.get(item.value.reading.site_id)!;
      readings.push(toFolded(item.value, item.ord, bucketsOf(item.value.timestampMs, zone, this.options.retention, now)));
    }
    const { shares, sites } = foldEntry(readings, this.keys, info);
    return { id, n: readings.length, shares, sites, bad };
  }
}

/** The sites of every valid reading in the entries. */
function sitesOf(entries: (EntryContent | null)[]): string[] {
  const sites: string[] = [];
  for (const content of entries) {
    if (!content?.ok) continue;
    for (const item of content.items) if (item.ok) sites.push(item.value.reading.site_id);
  }
  return sites;
}

/** Consecutive runs of payloads holding at most MAX_READINGS_PER_CALL readings (an entry is never split). */
function* chunks(payloads: Payload[]): Generator<Payload[]> {
  let chunk: Payload[] = [];
  let readings = 0;
  for (const p of payloads) {
    const n = 'n' in p ? p.n : 0;
    if (chunk.length > 0 && readings + n > MAX_READINGS_PER_CALL) {
      yield chunk;
      chunk = [];
      readings = 0;
    }
    chunk.push(p);
    readings += n;
  }
  if (chunk.length > 0) yield chunk;
}

/** Delivery counts of `entries` held by `consumer`, from XPENDING; used when re-delivering. */
export async function deliveryCounts(
  redis: RedisClient,
  { stream, group }: { stream: string; group: string },
  consumer: string,
  entries: readonly StreamEntry[],
): Promise<Map<string, number>> {
  if (entries.length === 0) return new Map();
  const first = entries[0]![0];
  const last = entries[entries.length - 1]![0];
  const rows = (await redis.call('XPENDING', stream, group, first, last, entries.length, consumer)) as [string, string, number, number][];
  return new Map(rows.map(([id, , , count]) => [id, Number(count)]));
}
