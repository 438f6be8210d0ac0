import type { Reading } from '@energy-pipeline/contract';
import { bucketExpiryS, bucketStartS, type Retention } from '../src/buckets.js';

/** A reading that got a 2xx, with the stream id it was given. */
export interface LedgerEntry {
  reading: Reading;
  id: string;
}

type Hash = Record<string, string>;

const idAfter = (a: string, b: string) => {
  const [ams, aseq] = a.split('-').map(Number) as [number, number];
  const [bms, bseq] = b.split('-').map(Number) as [number, number];
  return ams !== bms ? ams > bms : aseq > bseq;
};

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
  const add = (key: string, mw: number) => {
    const h = hash(key);
    h.count = String(Number(h.count ?? 0) + 1);
    h.sum_mw = String(Number(h.sum_mw ?? 0) + mw);
    if (h.min_mw === undefined || mw < Number(h.min_mw)) h.min_mw = String(mw);
    if (h.max_mw === undefined || mw > Number(h.max_mw)) h.max_mw = String(mw);
  };

  for (const { reading: r, id } of ledger) {
    const mw = Math.round(r.power_reading * 1000);
    const at = Date.parse(r.timestamp);
    const site = r.site_id;
    const dev = r.device_id;
    set('sites', site);
    set(`site-devices:${site}`, dev);
    add(`site:${site}`, mw);
    add(`device:${site}/${dev}`, mw);
    for (const bucket of ['minute', 'hour'] as const) {
      const start = bucketStartS(bucket, at);
      if (bucketExpiryS(bucket, start, retention, nowMs) === 0) continue;
      add(`device-${bucket}:${site}/${dev}:${start}`, mw);
      const siteKey = `site-${bucket}:${site}:${start}`;
      add(siteKey, mw);
      const h = hash(siteKey);
      h[`c:${dev}`] = String(Number(h[`c:${dev}`] ?? 0) + 1);
      h[`s:${dev}`] = String(Number(h[`s:${dev}`] ?? 0) + mw);
    }
    const d = hash(`device:${site}/${dev}`);
    const newer = d.latest_at_ms === undefined || at > Number(d.latest_at_ms) || (at === Number(d.latest_at_ms) && idAfter(id, d.latest_id!));
    if (newer) Object.assign(d, { latest_at_ms: String(at), latest_id: id, latest_timestamp: r.timestamp, latest_power: String(r.power_reading) });
  }
  for (const value of Object.values(out)) if (Array.isArray(value)) value.sort();
  out.stats = { processed: String(ledger.length) };
  return out;
}
