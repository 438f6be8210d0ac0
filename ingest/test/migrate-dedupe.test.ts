import { describe, expect, it } from 'vitest';
import { ingestKeys } from '@energy-pipeline/server-kit';
import { buildIngestApp } from '../src/app.js';
import { DEDUPE_FORMAT, migrateDedupe } from '../src/store/migrate-dedupe.js';
import { ingestConfig, seedReading, usePrivateRedis } from './helpers.js';

const stream = 'test_readings';
const keys = ingestKeys(stream);
const r = usePrivateRedis();

/** Device states as the two earlier formats wrote them; `newest` is the device's newest value. */
const EARLIER = [
  { field: 'site-001/device-001', text: '40;;1;1;', newest: 40 },
  { field: 'site-001/meter@t', text: '1795731690000;0;15;1795731690000;9998,0:9998', newest: 1795731690000 },
  { field: 'site-002/old@t', text: '1795731690001|1795731000000|2|:1795731000000,1795731600000:1795731680000', newest: 1795731690000 },
];

describe('the one-off dedupe migration', () => {
  it('converts every header in an earlier format, leaves the rest, marks the shard, and is idempotent', async () => {
    for (const e of EARLIER) await r.redis.client.hset(keys.dedupe, e.field, e.text);
    await r.redis.client.hset(keys.dedupe, 'site-003/d', 'newest=70;floor=-954;1,6=AAAAAAAA', 'site-003/d#0', '1,5=AAAAAAAA', 'site-004/bad', 'garbage');
    // Enough fields for HSCAN to take several pages.
    for (let i = 0; i < 1_200; i++) await r.redis.client.hset(keys.dedupe, `bulk/d-${i}`, `${i};;1;1;`);
    expect(await migrateDedupe(r.client, [stream])).toEqual({ converted: EARLIER.length + 1_200, unreadable: 1 });
    for (const e of EARLIER) expect(await r.redis.client.hget(keys.dedupe, e.field)).toBe(`newest=${e.newest};floor=${e.newest + 1};0`);
    expect(await r.redis.client.hget(keys.dedupe, 'bulk/d-7')).toBe('newest=7;floor=8;0');
    expect(await r.redis.client.hmget(keys.dedupe, 'site-003/d', 'site-003/d#0', 'site-004/bad')).toEqual(['newest=70;floor=-954;1,6=AAAAAAAA', '1,5=AAAAAAAA', 'garbage']);
    expect(await r.redis.client.get(keys.dedupeFormat)).toBe(DEDUPE_FORMAT);
    // Marked: a second run reads the marker and nothing else.
    await r.redis.client.hset(keys.dedupe, 'site-005/late', '3;;1;1;');
    expect(await migrateDedupe(r.client, [stream])).toEqual({ converted: 0, unreadable: 0 });
  });

  it('runs when ingest starts: an old device resends nothing twice and stores what is newer', async () => {
    const timestamp = '2026-12-01T10:00:00.000Z';
    const ms = Date.parse(timestamp);
    // The device's state as the earlier format left it: its newest reading was at `timestamp`.
    await r.redis.client.hset(keys.dedupe, 'site-001/device-001@t', `${ms};;1;${ms};`);
    const app = buildIngestApp(ingestConfig(r.redis.url));
    await app.ready();
    try {
      expect(await r.redis.client.get(keys.dedupeFormat)).toBe(DEDUPE_FORMAT);
      const resend = await app.inject({ method: 'POST', url: '/readings', payload: seedReading({ timestamp }) });
      // Stored before the migration, perhaps: never stored again, and answered as unknown, not a refusal.
      expect(resend.statusCode).toBe(409);
      expect(resend.json()).toMatchObject({ error: 'out_of_order', stored_before: 'unknown' });
      const newer = await app.inject({ method: 'POST', url: '/readings', payload: seedReading({ timestamp: new Date(ms + 10_000).toISOString() }) });
      expect(newer.statusCode).toBe(202);
      expect(await r.redis.client.xlen(stream)).toBe(1);
    } finally {
      await app.close();
    }
  });
});
