import type { QuietRule } from '../config/config.js';
import type { LiveDevice, LiveEnergy, LiveReading, SiteLive } from '@energy-pipeline/contract';
import { UsualInterval } from './usual-interval.js';

interface DeviceState {
  id: string;
  powerW: number | null;
  timestamp: string | null;
  /** Measurement time of the reading shown, epoch ms: a newer one replaces it, an older one does not. */
  atMs: number | null;
  /** When the pipeline received its latest reading (the stream entry's time), epoch ms. */
  seenMs: number | null;
  interval: UsualInterval;
}


/** The time part of a stream id: when Redis stored the entry. */
const entryMs = (streamId: string) => Number(streamId.slice(0, streamId.indexOf('-')));

/**
 * One site's live figures while it has subscribers: the latest reading of each device (from the
 * device hashes at first, then from the stream as it is read; by measurement time, as the apply
 * step keeps `latest`), each device's usual interval, and the energy of the current minute, hour
 * and day (re-read from the aggregates by the hub, once per interval for all its sites).
 */
export class SiteFeed {
  readonly devices = new Map<string, DeviceState>();
  zone = 'UTC';
  energy: { minute: LiveEnergy; hour: LiveEnergy; day: LiveEnergy } | null = null;
  /** The last snapshot sent, without its time: an unchanged one is not sent again. */
  lastSent = '';

  constructor(
    readonly siteId: string,
    readonly shard: number,
  ) {}

  private device(id: string): DeviceState {
    let d = this.devices.get(id);
    if (!d) {
      d = { id, powerW: null, timestamp: null, atMs: null, seenMs: null, interval: new UsualInterval() };
      this.devices.set(id, d);
    }
    return d;
  }

  /** A device's latest reading as the device hash holds it (`latest_*` fields). */
  seedDevice(id: string, h: Record<string, string | null>, seededIntervalS: number | null) {
    const d = this.device(id);
    d.interval.seededS = seededIntervalS;
    if (h.latest_timestamp) this.take(d, Number(h.latest_power), h.latest_timestamp, h.latest_id ? entryMs(h.latest_id) : null);
  }

  /** Readings of this site from the stream, in stream order. */
  add(readings: readonly LiveReading[]) {
    for (const r of readings) {
      const d = this.device(r.device_id);
      d.interval.observe(Date.parse(r.timestamp));
      this.take(d, r.power_w, r.timestamp, entryMs(r.stream_id));
    }
  }

  private take(d: DeviceState, powerW: number, timestamp: string, seenMs: number | null) {
    const atMs = Date.parse(timestamp);
    if (seenMs !== null && (d.seenMs === null || seenMs > d.seenMs)) d.seenMs = seenMs;
    if (d.atMs === null || atMs >= d.atMs) {
      d.atMs = atMs;
      d.powerW = powerW;
      d.timestamp = timestamp;
    }
  }

  snapshot(nowMs: number, rule: QuietRule): SiteLive {
    const devices: LiveDevice[] = [...this.devices.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((d) => {
        const intervalS = d.interval.seconds;
        const quietAfterMs = intervalS === null ? rule.unknownMs : Math.max(rule.factor * intervalS * 1000, rule.minMs);
        return {
          device_id: d.id,
          power_w: d.powerW,
          timestamp: d.timestamp,
          last_seen: d.seenMs === null ? null : new Date(d.seenMs).toISOString(),
          interval_s: intervalS === null ? null : Math.round(intervalS * 1000) / 1000,
          quiet: d.seenMs !== null && nowMs - d.seenMs > quietAfterMs,
        };
      });
    const empty = (bucketS: number): LiveEnergy => {
      const start = Math.floor(nowMs / 1000 / bucketS) * bucketS;
      return { start: new Date(start * 1000).toISOString(), span_s: bucketS, elapsed_s: Math.floor(nowMs / 1000 - start), energy_wh: 0, count: 0 };
    };
    return {
      site_id: this.siteId,
      time_zone: this.zone,
      at: new Date(nowMs).toISOString(),
      power_w: round3(devices.reduce((sum, d) => sum + (d.quiet || d.power_w === null ? 0 : d.power_w), 0)),
      devices,
      quiet: devices.filter((d) => d.quiet).map((d) => d.device_id),
      energy: this.energy ?? { minute: empty(60), hour: empty(3600), day: empty(86_400) },
    };
  }
}

export const round3 = (n: number) => Math.round(n * 1000) / 1000;
