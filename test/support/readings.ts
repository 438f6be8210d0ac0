import type { Redis } from 'ioredis';
import type { Reading } from '@energy-pipeline/contract';
import { encodeReading } from '@energy-pipeline/contract/server';

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
    timestamp: new Date(nowMs - 3_600_000 + (Math.floor(i / devices) % 3_600) * 1_000).toISOString(),
  };
  if (readingIdTag !== undefined) reading.reading_id = `${readingIdTag}-${i}`;
  return reading;
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
