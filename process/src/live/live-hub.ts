import type { FastifyBaseLogger } from 'fastify';
import type { FleetLive, LiveReading, PipelineLive, SiteEvent, TailEvent } from '@energy-pipeline/contract';
import type { RedisClient } from '@energy-pipeline/server-kit';
import type { Shards } from '../queries/shards.js';
import { FleetSites } from './fleet.js';
import { PipelineFeed } from './pipeline-feed.js';
import { covers, formatPosition, isAfter, laterOf, type Position } from './position.js';
import { type Event, readingEvents, resumeEvents } from './reading-events.js';
import { SiteFeed } from './site-feed.js';
import type { LiveConfig } from '../config/config.js';
import { loadSite, refreshEnergy } from './site-figures.js';
import { StreamTail, type TailEntry, type TailReader } from './stream-tail.js';
import { LiveEndError, type QueuedEvent, SubscriberQueue } from './subscriber-queue.js';


export interface LiveHubDeps {
  /** Commands: aggregates, replays, pipeline figures (the API's connection). */
  redis: RedisClient;
  /** The hub's own connections for XREAD BLOCK, and the shards each follows. */
  readers: TailReader[];
  /** Every shard: its stream, keys and sites' zones, and which holds a site. */
  shards: Shards;
  group: string;
  log: FastifyBaseLogger;
  config: LiveConfig;
}


interface FeedEntry {
  feed: SiteFeed;
  ready: Promise<void>;
  /** Site subscribers and fleet subscriptions that show it. */
  holders: number;
  subs: Set<ReadingSub>;
  keep: (r: LiveReading) => boolean;
}

/** Which readings a tail subscription wants; `sites` is the key's site list (null: every site). */
export interface TailFilter {
  site_id?: string | undefined;
  device_id?: string | undefined;
  sites: ReadonlySet<string> | null;
}
/** Most time a new subscriber waits for the tail to find the streams' ends (Redis down). */
const START_TIMEOUT_MS = 5_000;

export class LiveUnavailableError extends Error {}

interface ReadingSub {
  queue: SubscriberQueue<SiteEvent | TailEvent>;
  keep: (r: LiveReading) => boolean;
  /** Readings at or before this (a resume point ahead of this replica's tail) were delivered already. */
  skipUpTo: Position | null;
}

/**
 * The live side of one processor: one XREAD loop over the shard streams (StreamTail) and one
 * re-read of the aggregates per interval, whatever the number of subscribers; events are built
 * once and fanned out in-process to each subscriber's bounded queue (SubscriberQueue). Runs
 * only while someone subscribes.
 */
export class LiveHub {
  private readonly tail: StreamTail;
  private readonly feeds = new Map<string, FeedEntry>();
  /** One filter function per distinct tail filter, so that subscribers with the same one share events. */
  private readonly filters = new Map<string, (r: LiveReading) => boolean>();
  private readonly tailSubs = new Set<ReadingSub>();
  private readonly pipelineSubs = new Set<SubscriberQueue<PipelineLive>>();
  private readonly fleet: FleetSites;
  private readonly pipeline: PipelineFeed;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly d: LiveHubDeps) {
    const streams = d.shards.all.map((s) => s.stream);
    this.tail = new StreamTail(d.readers, { streams, log: d.log, onEntries: (e, before) => this.onEntries(e, before) });
    this.pipeline = new PipelineFeed(d.redis, streams, d.group);
    this.fleet = new FleetSites(d.redis, d.shards.all, d.config.fleetMaxSites, {
      hold: (site) => this.holdFeed(site),
      release: (site) => this.releaseFeed(site),
      snapshot: (site, now) => this.feeds.get(site)?.feed.snapshot(now, d.config.quiet) ?? null,
    });
  }

  /** Subscribers right now, by kind (for tests and logs). */
  get counts() {
    const sites = [...this.feeds.values()].reduce((n, f) => n + f.subs.size, 0);
    return { sites, feeds: this.feeds.size, tail: this.tailSubs.size, pipeline: this.pipelineSubs.size, fleet: this.fleet.size };
  }

  async *site(siteId: string, lastEventId: string | null | undefined, signal: AbortSignal): AsyncGenerator<Event<SiteEvent>> {
    const entry = await this.holdFeed(siteId);
    const shard = this.d.shards.forSite(siteId).shard;
    const sub = this.attach<SiteEvent | TailEvent>(entry.subs, entry.keep);
    try {
      const at = [...this.tail.position!];
      const { events, position } = await this.resume(sub, lastEventId, at, [shard]);
      for (const e of events) yield e as Event<SiteEvent>;
      yield { id: formatPosition(position), data: { type: 'snapshot', site: entry.feed.snapshot(Date.now(), this.d.config.quiet) } };
      for await (const e of sub.queue.drain(signal)) yield { id: e.id!, data: e.data as SiteEvent };
    } finally {
      entry.subs.delete(sub);
      this.releaseFeed(siteId);
    }
  }

  async *tailReadings(filter: TailFilter, lastEventId: string | null | undefined, signal: AbortSignal): AsyncGenerator<Event<TailEvent>> {
    await this.startTail();
    const sub = this.attach<TailEvent>(this.tailSubs, this.filterFor(filter));
    try {
      const at = [...this.tail.position!];
      const { events } = await this.resume(sub, lastEventId, at, this.d.shards.all.map((s) => s.shard));
      for (const e of events) yield e as Event<TailEvent>;
      for await (const e of sub.queue.drain(signal)) yield { id: e.id!, data: e.data as TailEvent };
    } finally {
      this.tailSubs.delete(sub);
      this.maybeStop();
    }
  }

  async *pipelineFigures(signal: AbortSignal): AsyncGenerator<PipelineLive> {
    const queue = new SubscriberQueue<PipelineLive>(2);
    this.pipelineSubs.add(queue);
    this.schedule();
    try {
      yield await this.pipeline.read();
      for await (const e of queue.drain(signal)) yield e.data;
    } finally {
      this.pipelineSubs.delete(queue);
      this.maybeStop();
    }
  }

  async *fleetFigures(sites: ReadonlySet<string> | null, signal: AbortSignal): AsyncGenerator<FleetLive> {
    await this.startTail();
    const queue = new SubscriberQueue<FleetLive>(2);
    const sub = await this.fleet.add(queue, sites);
    this.schedule();
    try {
      yield this.fleet.figures(sub, Date.now());
      for await (const e of queue.drain(signal)) yield e.data;
    } finally {
      this.fleet.remove(sub);
      this.maybeStop();
    }
  }

  /** Ends every subscription with `shutting_down` (clients reconnect, to another replica) and stops. Safe to call twice. */
  async close() {
    this.closed = true;
    const bye = new LiveEndError('shutting_down', 'This processor is shutting down; reconnect to resume');
    for (const { subs } of this.feeds.values()) for (const s of subs) s.queue.end(bye);
    for (const s of this.tailSubs) s.queue.end(bye);
    for (const q of this.pipelineSubs) q.end(bye);
    this.fleet.endAll(bye);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    await this.tail.stop();
  }

  private filterFor({ site_id, device_id, sites }: TailFilter) {
    const key = JSON.stringify([site_id, device_id, sites && [...sites].sort()]);
    let keep = this.filters.get(key);
    if (!keep) {
      keep = (r) =>
        (site_id === undefined || r.site_id === site_id) && (device_id === undefined || r.device_id === device_id) && (!sites || sites.has(r.site_id));
      this.filters.set(key, keep);
    }
    return keep;
  }

  private attach<T extends SiteEvent | TailEvent>(set: Set<ReadingSub>, keep: (r: LiveReading) => boolean) {
    const sub: ReadingSub = { queue: new SubscriberQueue<T>(this.d.config.queueMax) as ReadingSub['queue'], keep, skipUpTo: null };
    set.add(sub);
    return sub;
  }

  private async resume(sub: ReadingSub, lastEventId: string | null | undefined, at: Position, shards: number[]) {
    const streams = this.d.shards.all.map((s) => s.stream);
    const resumed = await resumeEvents(this.d.redis, streams, shards, sub.keep, lastEventId, at, this.d.config.queueMax);
    sub.skipUpTo = resumed.skipUpTo;
    return resumed;
  }

  private onEntries(entries: TailEntry[], before: Position) {
    if (this.closed) return;
    const bySite = new Map<string, LiveReading[]>();
    const all: LiveReading[] = [];
    for (const entry of entries) {
      for (const r of entry.readings) {
        all.push(r);
        if (!this.feeds.has(r.site_id)) continue;
        const list = bySite.get(r.site_id);
        if (list) list.push(r);
        else bySite.set(r.site_id, [r]);
      }
    }
    for (const [site, readings] of bySite) {
      const f = this.feeds.get(site)!;
      f.feed.add(readings);
      this.fanOut(f.subs, readings, before);
    }
    this.fanOut(this.tailSubs, all, before);
  }

  private fanOut(subs: Set<ReadingSub>, readings: LiveReading[], before: Position) {
    if (subs.size === 0 || readings.length === 0) return;
    // Subscribers with the same filter share one list of events (the common case: one site).
    const shared = new Map<ReadingSub['keep'], Event<SiteEvent | TailEvent>[]>();
    for (const sub of subs) {
      let events: Event<SiteEvent | TailEvent>[];
      const skip = sub.skipUpTo;
      if (skip) {
        const mine = readings.filter((r) => sub.keep(r) && isAfter(skip[r.shard]!, r.stream_id, r.index));
        events = readingEvents(mine, laterOf(before, skip));
        if (covers(this.tail.position ?? before, skip)) sub.skipUpTo = null;
      } else {
        events = shared.get(sub.keep) ?? readingEvents(readings.filter(sub.keep), [...before]);
        shared.set(sub.keep, events);
      }
      for (const e of events) this.push(sub.queue, e, e.data.type === 'readings' ? e.data.readings.length : 1);
    }
  }

  private push<T>(queue: SubscriberQueue<T>, e: { id: string | null; data: T }, weight: number, replaces?: string) {
    const event: QueuedEvent<T> = { id: e.id, data: e.data, weight, replaces };
    if (!queue.push(event) && !this.closed) this.d.log.info({ reason: 'slow_consumer' }, 'live subscriber dropped');
  }

  private async startTail() {
    this.schedule();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LiveUnavailableError('Redis is unreachable; retry later')), START_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.tail.start(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async holdFeed(siteId: string) {
    let entry = this.feeds.get(siteId);
    if (!entry) {
      const feed = new SiteFeed(siteId, this.d.shards.forSite(siteId).shard);
      const created: FeedEntry = { feed, holders: 0, subs: new Set(), ready: Promise.resolve(), keep: (r) => r.site_id === siteId };
      created.ready = this.startTail().then(() => loadSite(this.d.redis, this.viewOf(feed), feed));
      this.feeds.set(siteId, created);
      entry = created;
    }
    entry.holders += 1;
    try {
      await entry.ready;
      // Once per feed: later subscribers get the figures the interval keeps fresh.
      if (!entry.feed.energy) await refreshEnergy(this.d.redis, (f) => this.viewOf(f), [entry.feed]);
    } catch (err) {
      this.releaseFeed(siteId);
      throw err;
    }
    return entry;
  }

  private releaseFeed(siteId: string) {
    const entry = this.feeds.get(siteId);
    if (!entry) return;
    entry.holders -= 1;
    if (entry.holders <= 0) this.feeds.delete(siteId);
    this.maybeStop();
  }

  private viewOf(feed: SiteFeed) {
    return this.d.shards.all[feed.shard]!;
  }

  private get idle() {
    return this.feeds.size === 0 && this.tailSubs.size === 0 && this.pipelineSubs.size === 0 && this.fleet.size === 0;
  }

  private maybeStop() {
    if (!this.idle) return;
    this.filters.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.tail.stop();
  }

  private schedule() {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .catch((err: Error) => this.d.log.warn({ err: err.message }, 'live figures not refreshed'))
        .finally(() => {
          this.timer = null;
          this.ticking = null;
          if (!this.idle) this.schedule();
        });
    }, this.d.config.intervalMs);
  }

  /** Once per interval: the aggregates of every site in view, the fleet, the pipeline; one read each, shared by all. */
  private async tick() {
    const now = Date.now();
    const entries = [...this.feeds.values()];
    await refreshEnergy(this.d.redis, (f) => this.viewOf(f), entries.map((e) => e.feed), now);
    const position = this.tail.position ? formatPosition(this.tail.position) : null;
    for (const { feed, subs } of entries) {
      if (subs.size === 0 || position === null) continue;
      const snapshot: Event<SiteEvent> = { id: position, data: { type: 'snapshot', site: feed.snapshot(now, this.d.config.quiet) } };
      for (const sub of subs) this.push(sub.queue, snapshot, 1, 'snapshot');
    }
    await this.fleet.tick(now, (queue, figures) => this.push(queue, { id: null, data: figures }, 1, 'fleet'));
    if (this.pipelineSubs.size > 0) {
      const figures = await this.pipeline.read(now);
      for (const queue of this.pipelineSubs) this.push(queue, { id: null, data: figures }, 1, 'pipeline');
    }
  }
}
