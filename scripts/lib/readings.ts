import type { Redis } from 'ioredis';
import type { Reading } from '@energy-pipeline/contract';
import { encodeBatch, encodeReading } from '@energy-pipeline/contract';

export interface FleetOptions {
  /** Sites the readings are spread over. @default 10 */
  sites?: number;
  /** Devices, spread evenly over the sites. @default 200 */
  devices?: number;
  /** Readings are taken in the hour before this (epoch ms), one second apart per device. @default Date.now() */
  nowMs?: number;
  /** Gives every reading a reading_id `<tag>-<i>`; none when unset. */
  readingIdTag?: string;
}

/**
 * Reading `i` of a fleet: devices take turns, so consecutive readings hit different devices and
 * sites, as a stream fed by many devices does; power varies within ±5 kW with a fractional part.
 * Deterministic in `i`, so two runs (or two sides of a benchmark) see the same readings.
 */
export function fleetReading(i: number, options: FleetOptions = {}): Reading {
  const { sites = 10, devices = 200, nowMs = Date.now(), readingIdTag } = options;
  const device = i % devices;
  const reading: Reading = {
    site_id: `site-${device % sites}`,
    device_id: `device-${device}`,
    power_reading: ((i * 7919) % 10_000) - 5_000 + 0.5,
    // A device's readings 1 s apart over the last day: without seq a reading is its timestamp, so
    // they come round again only after 86,400 × devices readings (an hour's 720k took a fast
    // machine seconds).
    timestamp: new Date(nowMs - 86_400_000 + (Math.floor(i / devices) % 86_400) * 1_000).toISOString(),
  };
  if (readingIdTag !== undefined) reading.reading_id = `${readingIdTag}-${i}`;
  return reading;
}

export interface GatewayOptions {
  /** Sites, each with a gateway that batches its devices' readings. @default 100 */
  sites?: number;
  /** Devices per site, each reporting every 10 s. @default 10 */
  devicesPerSite?: number;
  /** Readings per batch: one gateway's devices over batch / devicesPerSite × 10 s. @default 500 */
  batch?: number;
  /** Readings are taken in the two hours before this (epoch ms). @default Date.now() */
  nowMs?: number;
  /** Number each device's readings (seq), as the SDK does. @default true */
  seq?: boolean;
}

/**
 * Reading `i` of a fleet sending through gateways, as our SDK's buffer does: each run of `batch`
 * readings is one site's devices over the same stretch of time (sites take turns), every device
 * numbering its readings. Deterministic in `i`. The readings cycle through two hours of time, so
 * that every bucket they fall in is recent, while their numbers keep growing; without seq they
 * run on from three days back, never repeating a device's timestamp.
 */
export function gatewayReading(i: number, options: GatewayOptions = {}): Reading {
  const { sites = 100, devicesPerSite = 10, batch = 500, nowMs = Date.now(), seq = true } = options;
  const b = Math.floor(i / batch);
  const k = i % batch;
  const site = b % sites;
  const device = k % devicesPerSite;
  const perDevice = Math.ceil(batch / devicesPerSite);
  const step = Math.floor(b / sites) * perDevice + Math.floor(k / devicesPerSite);
  const reading: Reading = {
    site_id: `site-${site}`,
    device_id: `device-${device}`,
    power_reading: ((i * 7919) % 10_000) - 5_000 + 0.5,
    timestamp: new Date(
      // Without seq a reading is identified by its timestamp, so those must never come round
      // again (a fast machine sends the two hours' 720k readings in seconds): they run on from
      // three days back instead (26M readings before they would reach now).
      (seq ? nowMs - 7_200_000 + (step % 720) * 10_000 : nowMs - 3 * 86_400_000 + step * 10_000) + device,
    ).toISOString(),
  };
  if (seq) reading.seq = step + 1;
  return reading;
}

/** `count` gateway readings, starting at reading `from`. */
export function gatewayReadings(count: number, options: GatewayOptions = {}, from = 0): Reading[] {
  const nowMs = options.nowMs ?? Date.now();
  return Array.from({ length: count }, (_, k) => gatewayReading(from + k, { ...options, nowMs }));
}

/**
 * Appends readings as ingest's batch route stores them: one stream entry per `batch` readings
 * (without ingest's dedupe); returns the entry ids.
 */
export async function appendBatchEntries(redis: Redis, stream: string, readings: readonly Reading[], batch = 500): Promise<string[]> {
  const pipeline = redis.pipeline();
  for (let i = 0; i < readings.length; i += batch) {
    const chunk = readings.slice(i, i + batch);
    pipeline.xadd(stream, '*', ...encodeBatch(JSON.stringify(chunk), chunk.length, Date.now()));
  }
  return ((await pipeline.exec()) ?? []).map(([err, id]) => {
    if (err) throw err;
    return id as string;
  });
}

/** `count` readings of a fleet, starting at reading `from`. */
export function fleetReadings(count: number, options: FleetOptions = {}, from = 0): Reading[] {
  const nowMs = options.nowMs ?? Date.now();
  return Array.from({ length: count }, (_, k) => fleetReading(from + k, { ...options, nowMs }));
}

/**
 * Appends readings to `stream` as ingest stores them (plain XADD of the stream entry), in
 * pipelines of `batch`; returns their stream ids in order.
 */
export async function appendReadings(redis: Redis, stream: string, readings: readonly Reading[], batch = 1_000): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < readings.length; i += batch) {
    const pipeline = redis.pipeline();
    const receivedAt = Date.now();
    for (const r of readings.slice(i, i + batch)) pipeline.xadd(stream, '*', ...encodeReading(r, receivedAt));
    for (const [err, id] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      ids.push(id as string);
    }
  }
  return ids;
}
