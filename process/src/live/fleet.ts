import type { RedisClient } from '@energy-pipeline/server-kit';
import type { FleetLive, SiteLive } from '@energy-pipeline/contract';
import type { ShardView } from '../queries/shards.js';
import type { LiveEndError, SubscriberQueue } from './subscriber-queue.js';

/** How often the list of sites is read again (new sites appear in the overview within this). */
const LIST_EVERY_MS = 10_000;

export interface FleetSub {
  queue: SubscriberQueue<FleetLive>;
  /** The key's sites; null: every site. */
  allowed: ReadonlySet<string> | null;
  /** The sites it shows now (held in the hub), and whether there are more. */
  sites: string[];
  more: boolean;
}

interface FeedAccess {
  hold(site: string): Promise<unknown>;
  release(site: string): void;
  snapshot(site: string, nowMs: number): SiteLive | null;
}

/**
 * The fleet overview: the first `max` sites (in id order, among the key's own when it is limited
 * to some), each shown through the hub's site feed, as a site page would be. The list is read
 * again every 10 s.
 */
export class FleetSites {
  private readonly subs = new Set<FleetSub>();
  private listedAt = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly shards: readonly ShardView[],
    private readonly max: number,
    private readonly feeds: FeedAccess,
  ) {}

  get size() {
    return this.subs.size;
  }

  async add(queue: SubscriberQueue<FleetLive>, allowed: ReadonlySet<string> | null): Promise<FleetSub> {
    const sub: FleetSub = { queue, allowed, sites: [], more: false };
    this.subs.add(sub);
    try {
      await this.relist(sub);
    } catch (err) {
      this.remove(sub);
      throw err;
    }
    return sub;
  }

  remove(sub: FleetSub) {
    if (!this.subs.delete(sub)) return;
    for (const site of sub.sites) this.feeds.release(site);
    sub.sites = [];
  }

  endAll(reason: LiveEndError) {
    for (const sub of this.subs) sub.queue.end(reason);
  }

  figures(sub: FleetSub, nowMs: number): FleetLive {
    const sites = sub.sites.flatMap((site) => {
      const s = this.feeds.snapshot(site, nowMs);
      if (!s) return [];
      const seen = s.devices.reduce<string | null>((latest, d) => (d.last_seen && (!latest || d.last_seen > latest) ? d.last_seen : latest), null);
      return [{ site_id: site, power_w: s.power_w, energy_today_wh: s.energy.day.energy_wh, devices: s.devices.length, quiet: s.quiet, last_seen: seen }];
    });
    return { at: new Date(nowMs).toISOString(), sites, more: sub.more };
  }

  /** Once per hub interval: the list again when due, then every subscriber's figures. */
  async tick(nowMs: number, send: (queue: SubscriberQueue<FleetLive>, figures: FleetLive) => void) {
    if (this.subs.size === 0) return;
    if (nowMs - this.listedAt >= LIST_EVERY_MS) {
      // One read of the list per distinct site restriction, however many subscribers share it.
      const lists = new Map<string, Promise<string[]>>();
      for (const sub of this.subs) {
        const key = sub.allowed ? [...sub.allowed].sort().join(',') : '*';
        if (!lists.has(key)) lists.set(key, this.siteIds(sub.allowed));
        await this.relist(sub, await lists.get(key)!);
      }
    }
    for (const sub of this.subs) send(sub.queue, this.figures(sub, nowMs));
  }

  /** Reads which sites `sub` shows, holding the new ones before releasing the old. */
  private async relist(sub: FleetSub, listed?: string[]) {
    const ids = listed ?? (await this.siteIds(sub.allowed));
    this.listedAt = Date.now();
    const next = ids.slice(0, this.max);
    const added = next.filter((s) => !sub.sites.includes(s));
    await Promise.all(added.map((s) => this.feeds.hold(s)));
    const dropped = sub.sites.filter((s) => !next.includes(s));
    sub.sites = next;
    sub.more = ids.length > this.max;
    for (const s of dropped) this.feeds.release(s);
  }

  /** Site ids of every shard, in byte order as Redis sorts them, at most max + 1. */
  private async siteIds(allowed: ReadonlySet<string> | null): Promise<string[]> {
    const lists = await Promise.all(
      this.shards.map(async ({ keys }) => {
        if (!allowed) return this.redis.zrange(keys.sites, 0, this.max);
        const candidates = [...allowed];
        if (candidates.length === 0) return [];
        const scores = await this.redis.zmscore(keys.sites, ...candidates);
        return candidates.filter((_, i) => scores[i] !== null);
      }),
    );
    const ids = [...new Set(lists.flat())].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return ids.slice(0, this.max + 1);
  }
}
