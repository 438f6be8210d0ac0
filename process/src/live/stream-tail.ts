import type { FastifyBaseLogger } from 'fastify';
import { Backoff, type RedisClient } from '@energy-pipeline/server-kit';
import type { LiveReading } from '@energy-pipeline/contract';
import { decodeEntry } from '@energy-pipeline/contract';
import { entryIdOf, markOf, type Mark, type Position } from './position.js';

/** One stream entry with its valid readings, as the live side shows them. */
export interface TailEntry {
  shard: number;
  id: string;
  readings: LiveReading[];
}

type XReadReply = [stream: string, entries: [id: string, fields: string[]][]][] | null;

/** How much longer than BLOCK a read may take before the connection is presumed dead (as consumer.ts). */
const WATCHDOG_GRACE_MS = 3_000;
const MAX_BACKOFF_MS = 2_000;

/**
 * Decodes an entry's readings again, as the apply step does: readings that fail validation are
 * left out (the apply step dead-letters them), so the live side shows what gets applied.
 */
export function decodeTailEntry(shard: number, id: string, fields: string[]): TailEntry {
  const content = decodeEntry(fields);
  const readings: LiveReading[] = [];
  if (content.ok) {
    for (const item of content.items) {
      if (!item.ok) continue;
      const r = item.value.reading;
      readings.push({
        site_id: r.site_id,
        device_id: r.device_id,
        // What apply counts: the milliwatts of the decimal sent.
        power_w: item.value.powerMw / 1000,
        timestamp: r.timestamp,
        ...(r.reading_id !== undefined ? { reading_id: r.reading_id } : {}),
        ...(r.seq !== undefined ? { seq: r.seq } : {}),
        shard,
        stream_id: id,
        index: item.ord,
      });
    }
  }
  return { shard, id, readings };
}

/**
 * A blocking connection and the shards it follows with one XREAD. A single Redis reads every
 * shard on one connection; a Redis Cluster refuses an XREAD whose streams are in different
 * slots, and a blocked read holds its node's connection, so there each shard has its own.
 */
export interface TailReader {
  redis: RedisClient;
  shards: number[];
}

export interface StreamTailOptions {
  /** Every shard stream, in shard order (STREAM_SHARDS). */
  streams: readonly string[];
  /** Entries per XREAD. @default 500 */
  count?: number;
  /** How long one XREAD blocks. Bounded so that a stop or a dead connection is noticed. @default 2000 */
  blockMs?: number;
  log: FastifyBaseLogger;
  /** Called with each read's entries (in stream order per shard) and the position before them, synchronously. */
  onEntries: (entries: TailEntry[], before: Position) => void;
}

/**
 * Follows the readings stream(s) with XREAD BLOCK on connections of its own, the way a plain
 * reader does (no consumer group: it acknowledges nothing and takes nothing from the workers), so
 * every processor replica sees every reading whichever replica applies it. It starts at the end
 * of each stream; `position` is always the last entry handed to `onEntries`.
 */
export class StreamTail {
  private loop: Promise<void> | null = null;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  private positioned: Promise<void> | null = null;
  /** The last entry handed on, per shard; null until the tail has found the streams' ends. */
  position: Position | null = null;
  /** Reads abandoned because Redis gave no answer in time. */
  watchdogTrips = 0;

  constructor(
    private readonly readers: readonly TailReader[],
    private readonly options: StreamTailOptions,
  ) {}

  get running() {
    return this.loop !== null;
  }

  /** Starts following from the streams' current ends; resolves once `position` is known. */
  start(): Promise<void> {
    // A stop under way ends the old loop first (it clears `position`).
    if (this.stopped) return this.stopped.then(() => this.start());
    if (!this.loop) {
      this.stopping = false;
      let found!: () => void;
      this.positioned = new Promise((resolve) => (found = resolve));
      this.loop = this.run(found).finally(() => {
        this.loop = null;
      });
    }
    return this.positioned!;
  }

  /** Safe to call twice. */
  stop(): Promise<void> {
    if (!this.loop) return this.stopped ?? Promise.resolve();
    this.stopping = true;
    // A blocked XREAD would otherwise hold the stop for up to BLOCK ms; ioredis reconnects.
    for (const { redis } of this.readers) redis.disconnect(true);
    const loop = this.loop;
    this.stopped ??= loop.then(() => {
      this.position = null;
      this.stopped = null;
    });
    return this.stopped;
  }

  private async run(found: () => void) {
    const backoff = new Backoff(100, MAX_BACKOFF_MS);
    while (!this.stopping && !this.position) {
      if (this.readers.some(({ redis }) => redis.status !== 'ready')) {
        await sleep(100);
        continue;
      }
      try {
        this.position = await this.ends();
        found();
      } catch (err) {
        await this.backOff(backoff, err);
      }
    }
    await Promise.all(this.readers.map((reader) => this.follow(reader)));
  }

  private async follow(reader: TailReader) {
    const backoff = new Backoff(100, MAX_BACKOFF_MS);
    while (!this.stopping) {
      if (reader.redis.status !== 'ready') {
        await sleep(100);
        continue;
      }
      try {
        await this.readOnce(reader);
        backoff.reset();
      } catch (err) {
        if (this.stopping) break;
        await this.backOff(backoff, err);
      }
    }
  }

  private async backOff(backoff: Backoff, err: unknown) {
    const retryInMs = backoff.next();
    this.options.log.warn({ err: (err as Error).message, retryInMs }, 'live tail read failed');
    await sleep(retryInMs);
  }

  /** The last entry of each stream now (0-0 for an empty or missing one); one command per stream, each in its own slot. */
  private async ends(): Promise<Position> {
    const { streams } = this.options;
    const found = new Array<Mark>(streams.length);
    await Promise.all(
      this.readers.flatMap(({ redis, shards }) =>
        shards.map(async (shard) => {
          const last = (await redis.xrevrange(streams[shard]!, '+', '-', 'COUNT', 1))[0];
          found[shard] = markOf(last ? last[0] : '0-0');
        }),
      ),
    );
    return found;
  }

  private async readOnce(reader: TailReader) {
    const { streams, count = 500, blockMs = 2_000 } = this.options;
    const position = this.position!;
    const names = reader.shards.map((shard) => streams[shard]!);
    const ids = reader.shards.map((shard) => entryIdOf(position[shard]!));
    const reply = await this.withWatchdog(
      reader.redis,
      reader.redis.call('XREAD', 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...names, ...ids) as Promise<XReadReply>,
      blockMs + WATCHDOG_GRACE_MS,
    );
    if (!reply || this.stopping) return;
    // Readers run side by side, each moving only its own shards' marks.
    const before = [...position];
    const entries: TailEntry[] = [];
    for (const [stream, rows] of reply) {
      const shard = streams.indexOf(stream);
      for (const [id, fields] of rows) entries.push(decodeTailEntry(shard, id, fields));
      if (rows.length > 0) position[shard] = markOf(rows[rows.length - 1]![0]);
    }
    if (entries.length > 0) this.options.onEntries(entries, before);
  }

  private withWatchdog<T>(redis: RedisClient, promise: Promise<T>, limitMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.watchdogTrips += 1;
        redis.disconnect(true);
        reject(new Error(`XREAD gave no answer in ${limitMs} ms; reconnecting`));
      }, limitMs);
    });
    return Promise.race([promise, watchdog]).finally(() => clearTimeout(timer));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
