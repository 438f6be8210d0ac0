import { describe, expect, it } from 'vitest';
import { ingestKeys } from '@energy-pipeline/server-kit';
import { buildIngestApp } from '../src/app.js';
import { AppendReadings } from '../src/store/append-readings.js';
import { parseHeader } from '../src/store/dedupe-format.js';
import { fingerprintOf } from '../src/store/fingerprint.js';
import { DEDUPE_FORMAT, migrateDedupe } from '../src/store/migrate-dedupe.js';
import { ingestConfig, seedReading, usePrivateRedis } from './helpers.js';

const stream = 'test_readings';
const keys = ingestKeys(stream);
const r = usePrivateRedis();

/** Device states as the gap-list formats (1) wrote them; `newest` is the device's newest value. */
const EARLIER = [
  { field: 'site-001/device-001', text: '40;;1;1;', newest: 40 },
  { field: 'site-001/meter@t', text: '1795731690000;0;15;1795731690000;9998,0:9998', newest: 1795731690000 },
  { field: 'site-002/old@t', text: '1795731690001|1795731000000|2|:1795731000000,1795731600000:1795731680000', newest: 1795731690000 },
];

/** Two readings of device site-003/d, at one time, and what their records hold. */
const AT = Date.parse('2026-12-01T10:00:00Z');
const reading = (seq: number, power_reading: number) => ({
  reading: { site_id: 'site-003', device_id: 'd', power_reading, timestamp: new Date(AT).toISOString(), seq },
  atMs: AT,
});
const A = fingerprintOf({ power_reading: 1, seq: 0 }, AT);
const B = fingerprintOf({ power_reading: 2, seq: 0 }, AT);

describe('the one-off dedupe migration', () => {
  it('converts every header in an earlier format, leaves the rest, marks the shard, and is idempotent', async () => {
    for (const e of EARLIER) await r.redis.client.hset(keys.dedupe, e.field, e.text);
    // Format 2 (the open chunk whole in the header), format 3 (left alone), a chunk, and garbage.
    await r.redis.client.hset(
      keys.dedupe,
      ...['site-003/d', `newest=70;floor=-954;2,6=${A},5=${B}`, 'site-003/e@t', 'newest=9;floor=-1;0', 'site-003/f', `newest=80;floor=-944;1;,16=${A}`],
      ...['site-003/d#0', `1,5=${A}`, 'site-004/bad', 'garbage', 'site-004/half', 'newest=1;floor=0;1x'],
    );
    // Enough fields for HSCAN to take several pages.
    for (let i = 0; i < 1_200; i++) await r.redis.client.hset(keys.dedupe, `bulk/d-${i}`, `${i};;1;1;`);
    expect(await migrateDedupe(r.client, [stream])).toEqual({ converted: EARLIER.length + 1_200 + 2, unreadable: 2 });
    for (const e of EARLIER) expect(await r.redis.client.hget(keys.dedupe, e.field)).toBe(`newest=${e.newest};floor=${e.newest + 1};0;`);
    expect(await r.redis.client.hget(keys.dedupe, 'bulk/d-7')).toBe('newest=7;floor=8;0;');
    expect(await r.redis.client.hmget(keys.dedupe, 'site-003/d', 'site-003/e@t', 'site-003/f', 'site-003/d#0', 'site-004/bad', 'site-004/half')).toEqual([
      `newest=70;floor=-954;2;,6=${A},5=${B}`,
      'newest=9;floor=-1;0;',
      `newest=80;floor=-944;1;,16=${A}`,
      `1,5=${A}`,
      'garbage',
      'newest=1;floor=0;1x',
    ]);
    // The converted header reads as the script reads it: its records are the open chunk's tail.
    expect(parseHeader((await r.redis.client.hget(keys.dedupe, 'site-003/d'))!)).toEqual({
      newest: 70,
      floor: -954,
      count: 2,
      tail: [
        { offset: 6, fingerprint: A },
        { offset: 5, fingerprint: B },
      ],
    });
    // What format 2 remembered is still remembered: each resend is a repeat, and nothing is stored.
    const settings = { windowMs: 3_600_000, seqWindow: 1024, maxPerChunk: 600 };
    const resends = [reading(70, 1), reading(69, 2), reading(5, 1)];
    const { outcomes } = await new AppendReadings(r.client, settings).run(keys, { mode: 'batch', receivedAtMs: 0, readings: resends });
    expect(outcomes.map((o) => o.status)).toEqual(['repeat', 'repeat', 'repeat']);
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
