import type { Reading } from '@energy-pipeline/contract';
import { milliwatts } from '@energy-pipeline/contract';
import { bucketExpiryS, type Retention } from '../../process/src/queries/buckets.js';
import { escapeGlob, redisKeys, type RedisClient, scanKeys } from '@energy-pipeline/server-kit';
import { ID_LISTS_FIELD } from '../../process/src/worker/sorted-sets.js';
import { STREAM } from './process-app.js';

/**
 * A reading that got a 2xx, with the entry it was stored in and its place there; null for a
 * repeat, whose entry the answer does not name.
 */
export interface LedgerEntry {
  reading: Reading;
  id: string | null;
  ord?: number;
}

type Hash = Record<string, string>;

/** (entry id, place in the entry) after (b, bOrd): stream ids compare as (ms, seq). */
const after = (a: string, aOrd: number, b: string, bOrd: number) => {
  const [ams, aseq] = a.split('-').map(Number) as [number, number];
  const [bms, bseq] = b.split('-').map(Number) as [number, number];
  return ams !== bms ? ams > bms : aseq !== bseq ? aseq > bseq : aOrd > bOrd;
};

/**
 * The buckets a reading at `atMs` falls in at a site in UTC, worked out with plain Date arithmetic
 * (not with the processor's own code): minutes and hours named by their start, days and months by
 * their date.
 */
function utcBuckets(atMs: number) {
  const d = new Date(atMs);
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()];
  const dayStart = Date.UTC(y, m, day);
  const monthStart = Date.UTC(y, m, 1);
  const iso = new Date(dayStart).toISOString();
  return [
    { bucket: 'minute' as const, name: String(Math.floor(atMs / 60_000) * 60), startS: Math.floor(atMs / 60_000) * 60, spanS: 60 },
    { bucket: 'hour' as const, name: String(Math.floor(atMs / 3_600_000) * 3600), startS: Math.floor(atMs / 3_600_000) * 3600, spanS: 3600 },
    { bucket: 'day' as const, name: iso.slice(0, 10), startS: dayStart / 1000, spanS: 86_400 },
    { bucket: 'month' as const, name: iso.slice(0, 7), startS: monthStart / 1000, spanS: (Date.UTC(y, m + 1, 1) - monthStart) / 1000 },
  ];
}

/**
 * What the aggregates must be after every ledger entry was applied exactly once, computed
 * here independently of the Lua script, in the shape `dumpAggregates` reads them.
 */
export function expectedAggregates(ledger: LedgerEntry[], retention: Retention, nowMs = Date.now()) {
  const out: Record<string, Hash | string[]> = {};
  const hash = (key: string): Hash => {
    out[key] ??= {};
    return out[key] as Hash;
  };
  const set = (key: string, member: string) => {
    out[key] ??= [];
    const s = out[key] as string[];
    if (!s.includes(member)) s.push(member);
  };
  const add = (key: string, mw: number, sent: number) => {
    const h = hash(key);
    h.count = String(Number(h.count ?? 0) + 1);
    h.sum_mw = String(Number(h.sum_mw ?? 0) + mw);
    if (h.min_w === undefined || sent < Number(h.min_w)) h.min_w = String(sent);
    if (h.max_w === undefined || sent > Number(h.max_w)) h.max_w = String(sent);
  };

  for (const { reading: r, id, ord = 0 } of ledger) {
    const mw = milliwatts(String(r.power_reading));
    const w = r.power_reading;
    const at = Date.parse(r.timestamp);
    const site = r.site_id;
    const dev = r.device_id;
    set('sites', site);
    set(`site-devices:${site}`, dev);
    add(`site:${site}`, mw, w);
    add(`device:${site}/${dev}`, mw, w);
    for (const { bucket, name, startS, spanS } of utcBuckets(at)) {
      if (bucketExpiryS(bucket, startS, spanS, retention, nowMs) === 0) continue;
      const deviceKey = `device-${bucket}:${site}/${dev}:${name}`;
      const siteKey = `site-${bucket}:${site}:${name}`;
      add(deviceKey, mw, w);
      add(siteKey, mw, w);
      const h = hash(siteKey);
      h[`c:${dev}`] = String(Number(h[`c:${dev}`] ?? 0) + 1);
      h[`s:${dev}`] = String(Number(h[`s:${dev}`] ?? 0) + mw);
      // Days and months vary in length, so their buckets record it.
      if (bucket === 'day' || bucket === 'month') for (const key of [deviceKey, siteKey]) hash(key).span_s = String(spanS);
    }
    const d = hash(`device:${site}/${dev}`);
    if (id === null) throw new Error('every ledger entry needs its stream entry: resolve repeats first');
    const newer =
      d.latest_at_ms === undefined || at > Number(d.latest_at_ms) || (at === Number(d.latest_at_ms) && after(id, ord, d.latest_id!, Number(d.latest_ord)));
    if (newer) {
      Object.assign(d, { latest_at_ms: String(at), latest_id: id, latest_ord: String(ord), latest_timestamp: r.timestamp, latest_power: String(r.power_reading) });
    }
  }
  for (const value of Object.values(out)) if (Array.isArray(value)) value.sort();
  out.stats = { processed: String(ledger.length) };
  return out;
}


/**
 * Every aggregate key of `group` on `stream` (a shard's, say) with its contents, keyed by name
 * without the prefix.
 */
export async function dumpAggregates(redis: RedisClient, group: string, stream = STREAM): Promise<Record<string, unknown>> {
  const { prefix } = redisKeys({ stream, group });
  const out: Record<string, unknown> = {};
  for (const key of await scanKeys(redis, `${escapeGlob(prefix)}*`)) {
    const type = await redis.type(key);
    const name = key.slice(prefix.length);
    if (type === 'hash') {
      const h = await redis.hgetall(key);
      // Not an aggregate: the marker that the id lists are sorted sets (sorted-sets.ts), written
      // or not depending on when consumers (re)started.
      if (name === 'stats') delete h[ID_LISTS_FIELD];
      out[name] = h;
    } else if (type === 'zset') {
      // Members, sorted; every score must be 0 (the API pages them with ZRANGE BYLEX), so any
      // other score shows up as `member@score` and fails the comparison.
      const flat = await redis.zrange(key, 0, -1, 'WITHSCORES');
      out[name] = flat.flatMap((v, i) => (i % 2 ? [] : [flat[i + 1] === '0' ? v : `${v}@${flat[i + 1]}`])).sort();
    } else if (type !== 'none') {
      throw new Error(`${key} is a ${type}: dumpAggregates does not know it`);
    }
  }
  return out;
}
