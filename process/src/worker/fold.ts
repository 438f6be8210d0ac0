import type { DecodedReading } from '@energy-pipeline/contract';
import type { RedisKeys } from '@energy-pipeline/server-kit';
import { BUCKETS, type BucketRef } from '../queries/buckets.js';

/**
 * Folds an entry's readings into what they add to each aggregate key, here in Node rather than
 * per reading in Lua: lua/apply-entries.lua then adds whole entries to keys, touching each key
 * once per call, and spends nothing per reading. An entry is the unit of exactly-once (it is
 * acknowledged whole), so folding within it changes nothing about which readings count.
 */

/** What one entry adds to one hash: count, sum, and its smallest and largest readings as sent. */
export interface Share {
  n: number;
  sum: number;
  min: number;
  minText: string;
  max: number;
  maxText: string;
  /** Site buckets: each device's count and sum, for the site's energy. */
  devices?: Map<string, { n: number; sum: number }>;
  /** Device totals: the entry's latest reading (by measurement time, then place in the entry). */
  latest?: { at: number; ord: number; timestamp: string; power: string };
}

/** A hash the folded entries touch: what kind it is, and for buckets when it expires and how long it lasts. */
export interface KeyInfo {
  /** 0 a total or plain bucket, 1 a device's totals (keeps the latest reading), 2 a site bucket (keeps per-device parts). */
  kind: 0 | 1 | 2;
  /** Epoch s; 0: never (totals). */
  expire: number;
  /** Seconds, for day and month buckets (23-25 hours, 28-31 days); 0 otherwise. */
  span: number;
}

export interface FoldedReading {
  site: string;
  device: string;
  mw: number;
  atMs: number;
  power: string;
  timestamp: string;
  ord: number;
  buckets: BucketRef[];
}

export function toFolded(value: DecodedReading, ord: number, buckets: BucketRef[]): FoldedReading {
  const { reading, powerMw, powerText, timestampMs } = value;
  return { site: reading.site_id, device: reading.device_id, mw: powerMw, atMs: timestampMs, power: powerText, timestamp: reading.timestamp, ord, buckets };
}

/** An entry's shares by key name, and the keys' kinds; the sites and devices it names. */
export function foldEntry(readings: readonly FoldedReading[], keys: RedisKeys, info: Map<string, KeyInfo>) {
  const shares = new Map<string, Share>();
  const sites = new Map<string, Set<string>>();
  const share = (key: string, r: FoldedReading, meta: KeyInfo) => {
    if (!info.has(key)) info.set(key, meta);
    let s = shares.get(key);
    const power = Number(r.power);
    if (!s) {
      s = { n: 0, sum: 0, min: power, minText: r.power, max: power, maxText: r.power };
      shares.set(key, s);
    }
    s.n += 1;
    s.sum += r.mw;
    if (power < s.min) [s.min, s.minText] = [power, r.power];
    if (power > s.max) [s.max, s.maxText] = [power, r.power];
    return s;
  };
  for (const r of readings) {
    const device = share(keys.device(r.site, r.device), r, { kind: 1, expire: 0, span: 0 });
    if (!device.latest || r.atMs > device.latest.at || (r.atMs === device.latest.at && r.ord > device.latest.ord)) {
      device.latest = { at: r.atMs, ord: r.ord, timestamp: r.timestamp, power: r.power };
    }
    share(keys.site(r.site), r, { kind: 0, expire: 0, span: 0 });
    BUCKETS.forEach((bucket, i) => {
      const [name, expire, span] = r.buckets[i]!;
      if (expire === 0) return; // past its retention: the reading counts in the totals only
      share(keys.deviceBucket(bucket, r.site, r.device, name), r, { kind: 0, expire, span });
      const site = share(keys.siteBucket(bucket, r.site, name), r, { kind: 2, expire, span });
      site.devices ??= new Map();
      const part = site.devices.get(r.device) ?? { n: 0, sum: 0 };
      part.n += 1;
      part.sum += r.mw;
      site.devices.set(r.device, part);
    });
    const devices = sites.get(r.site) ?? new Set<string>();
    devices.add(r.device);
    sites.set(r.site, devices);
  }
  return { shares, sites };
}
