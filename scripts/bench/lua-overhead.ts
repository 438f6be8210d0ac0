import type { Redis } from 'ioredis';
import pino from 'pino';
import { decodeReading, redisKeys } from '@energy-pipeline/contract/server';
import { Applier, type StreamEntry } from '../../process/src/applier.js';
import { bucketExpiryS, bucketStartS } from '../../process/src/buckets.js';
import { defineScripts } from '../../process/src/scripts.js';
import { appendReadings, fleetReadings } from '../../test/support/readings.js';
import { redisCpuUs, type RedisTarget } from './redis-target.js';

const RETENTION = { minuteS: 7 * 24 * 3600, hourS: 400 * 24 * 3600 };

/**
 * What the Lua call itself costs Redis: the same readings applied (1) by apply-reading.lua as the
 * processor sends it, and (2) by the same Redis commands sent without a script, in pipelines of
 * 200 from this process: the script's 42 calls per reading (its conditional HSETs as one HSET,
 * about what this fleet needs).
 * Redis CPU per reading for each, from INFO; the difference is the price of the script call.
 * Not an apply path: (2) is not atomic, and exists only to price (1).
 */
export async function luaOverhead(target: RedisTarget, total: number) {
  const redis = defineScripts(target.client.duplicate()) as Redis;
  const readings = fleetReadings(total);
  const drainAll = async (stream: string, group: string) => {
    await appendReadings(redis, stream, readings);
    await redis.xgroup('CREATE', stream, group, '0');
    const batches: StreamEntry[][] = [];
    for (;;) {
      const reply = (await redis.call('XREADGROUP', 'GROUP', group, 'c', 'COUNT', 200, 'STREAMS', stream, '>')) as [string, StreamEntry[]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) return batches;
      batches.push(entries);
    }
  };

  const scripted = await drainAll('lua-script', 'g');
  const applier = new Applier(redis, { stream: 'lua-script', group: 'g', maxDeliveries: 5, retention: RETENTION, log: pino({ level: 'silent' }) });
  let cpu0 = await redisCpuUs(target);
  for (const batch of scripted) await applier.apply(batch);
  const script = ((await redisCpuUs(target)) - cpu0) / total;

  const plainBatches = await drainAll('lua-plain', 'g');
  const k = redisKeys({ stream: 'lua-plain', group: 'g' });
  const now = Date.now();
  cpu0 = await redisCpuUs(target);
  for (const batch of plainBatches) {
    const p = redis.pipeline();
    for (const [id, fields] of batch) {
      const d = decodeReading(fields!);
      if (!d.ok) throw new Error('bad entry');
      const { site_id: site, device_id: device } = d.value.reading;
      const mw = d.value.powerMw;
      const [minute, hour] = [bucketStartS('minute', d.value.timestampMs), bucketStartS('hour', d.value.timestampMs)];
      const keys = [k.stream, k.stats, k.sites, k.site(site), k.siteDevices(site), k.device(site, device),
        k.deviceBucket('minute', site, device, minute), k.deviceBucket('hour', site, device, hour), k.siteBucket('minute', site, minute), k.siteBucket('hour', site, hour)];
      for (const key of keys) p.type(key);
      p.xack(k.stream, 'g', id);
      p.hincrby(k.stats, 'processed', 1).sadd(k.sites, site).sadd(k.siteDevices(site), device);
      const add = (key: string) => p.hincrby(key, 'count', 1).hincrby(key, 'sum_mw', mw).hmget(key, 'min_mw', 'max_mw');
      add(keys[3]!);
      add(keys[5]!);
      for (const [dev, siteKey, bucket, start] of [[keys[6]!, keys[8]!, 'minute', minute], [keys[7]!, keys[9]!, 'hour', hour]] as const) {
        add(dev);
        add(siteKey);
        p.hincrby(siteKey, `c:${device}`, 1).hincrby(siteKey, `s:${device}`, mw);
        const expiry = bucketExpiryS(bucket, start, RETENTION, now);
        p.expireat(dev, expiry).expireat(siteKey, expiry);
      }
      p.hmget(keys[5]!, 'latest_at_ms', 'latest_id');
      // The script's HSETs of a new min, max or latest: about one per reading in this fleet.
      p.hset(keys[5]!, 'latest_at_ms', d.value.timestampMs, 'latest_id', id);
    }
    await p.exec();
  }
  const plain = ((await redisCpuUs(target)) - cpu0) / total;
  redis.disconnect();
  return { scriptCpuUsPerReading: script, plainCommandsCpuUsPerReading: plain };
}
