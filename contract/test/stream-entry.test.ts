import { describe, expect, it } from 'vitest';
import { decodeReading, encodeReading } from '@energy-pipeline/contract';
import { hashTag, redisKeys } from '@energy-pipeline/server-kit';

describe('stream entry codec', () => {
  const reading = { site_id: 's1', device_id: 'd1', power_reading: -12.3456, timestamp: '2024-01-15T10:30:00Z', reading_id: 'r1' };

  it('round-trips a reading and derives integer milliwatts and epoch ms', () => {
    const decoded = decodeReading(encodeReading(reading, 1));
    expect(decoded).toEqual({
      ok: true,
      value: { reading, powerMw: -12346, powerText: '-12.3456', timestampMs: Date.parse(reading.timestamp) },
    });
  });

  it('carries a sequence number through the stream', () => {
    const decoded = decodeReading(encodeReading({ ...reading, seq: 2 ** 53 - 1 }, 1));
    expect(decoded.ok && decoded.value.reading.seq).toBe(2 ** 53 - 1);
  });

  it("keeps a foreign producer's decimal text and refuses text that only Number() reads", () => {
    const fields = ['site_id', 's1', 'device_id', 'd1', 'timestamp', '2024-01-15T10:30:00Z', 'power_reading'];
    const decoded = decodeReading([...fields, '1500.50']);
    expect(decoded.ok && [decoded.value.powerText, decoded.value.powerMw]).toEqual(['1500.50', 1_500_500]);
    const hex = decodeReading([...fields, '0x10']);
    expect(!hex.ok && hex.issues.map((i) => i.path)).toEqual(['power_reading']);
  });

  it('rejects an entry from a foreign producer, naming the field', () => {
    const decoded = decodeReading(['site_id', 's1', 'device_id', 'd1', 'power_reading', 'lots', 'timestamp', 'x']);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.issues.map((i) => i.path).sort()).toEqual(['power_reading', 'timestamp']);
  });
});

describe('redis keys', () => {
  it('puts every derived key in the stream slot', () => {
    const keys = redisKeys({ stream: 'energy_readings', group: 'g' });
    expect(hashTag('energy_readings')).toBe('{energy_readings}');
    for (const key of [keys.stats, keys.sites, keys.site('s'), keys.siteDevices('s'), keys.device('s', 'd')]) {
      expect(key).toContain('{energy_readings}');
    }
  });

  it("reuses a stream name's own hash tag", () => {
    expect(hashTag('readings:{eu}')).toBe('{eu}');
    expect(redisKeys({ stream: 'readings:{eu}', group: 'g' }).stats).toBe('ep:{eu}:g:stats');
  });

  it('keeps site/device pairs apart that a plain join would confuse', () => {
    const keys = redisKeys({ stream: 's', group: 'g' });
    expect(keys.device('a:b', 'c')).not.toBe(keys.device('a', 'b:c'));
  });
});
