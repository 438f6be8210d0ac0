import { describe, expect, it } from 'vitest';
import { shardOf, shardStreams } from '@energy-pipeline/server-kit';
import { storedReadings } from '../../test/support/stream.js';
import { seedReading, useIngestApp } from './helpers.js';

const stream = 'test_readings';
const t = useIngestApp();

const post = (payload: object) => t.app.inject({ method: 'POST', url: '/readings', payload });

describe('single readings that arrive together', () => {
  it('are stored in one batch entry, one script call, each answered 202 with that entry', async () => {
    const readings = Array.from({ length: 20 }, (_, i) => seedReading({ device_id: `meter-${i}`, seq: 1 }));
    const answers = await Promise.all(readings.map(post));
    expect(answers.map((a) => a.statusCode)).toEqual(readings.map(() => 202));
    const ids = new Set(answers.map((a) => a.json().stream_id));
    const entries = await t.redis.client.xrange(stream, '-', '+');
    // Some may have been parsed in a later turn of the event loop; most share an entry.
    expect(entries.length).toBeLessThan(readings.length / 2);
    expect(ids.size).toBe(entries.length);
    expect((await storedReadings(t.redis.client, stream)).map((r) => r.fields.device_id).sort()).toEqual(readings.map((r) => r.device_id).sort());
  });

  it('are told apart from repeats within the turn: the second copy gets duplicate, nothing is stored twice', async () => {
    const reading = seedReading({ device_id: 'twice', seq: 7 });
    const answers = await Promise.all([post(reading), post(reading), post(seedReading({ device_id: 'other', seq: 1 }))]);
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 202]);
    expect(answers.map((a) => a.json().duplicate).sort()).toEqual([false, false, true]);
    expect(await storedReadings(t.redis.client, stream)).toHaveLength(2);
  });

  it("keeps the seed's entry format for a reading that arrives alone", async () => {
    const res = await post(seedReading({ device_id: 'alone' }));
    expect(res.statusCode).toBe(202);
    const entries = await t.redis.client.xrange(stream, '-', '+');
    expect(entries).toHaveLength(1);
    const fields = entries[0]![1];
    expect(fields).toEqual(expect.arrayContaining(['site_id', 'device_id', 'alone', 'power_reading', 'timestamp', 'received_at']));
    expect(fields).not.toContain('readings');
  });
});

describe('single readings that arrive together, on a sharded stream', () => {
  const sharded = useIngestApp({ STREAM_SHARDS: '4' });

  it('go into one entry per shard', async () => {
    const readings = Array.from({ length: 40 }, (_, i) => seedReading({ site_id: `site-${i % 8}`, device_id: `meter-${i}`, seq: 1 }));
    const answers = await Promise.all(readings.map((r) => sharded.app.inject({ method: 'POST', url: '/readings', payload: r })));
    expect(answers.every((a) => a.statusCode === 202)).toBe(true);
    const streams = shardStreams(stream, 4);
    let total = 0;
    let entries = 0;
    for (const [shard, s] of streams.entries()) {
      const stored = await storedReadings(sharded.redis.client, s);
      total += stored.length;
      entries += await sharded.redis.client.xlen(s);
      for (const r of stored) expect(shardOf(String(r.fields.site_id), 4)).toBe(shard);
    }
    expect(total).toBe(readings.length);
    expect(entries).toBeLessThan(readings.length / 2);
  });
});
