import { describe, expect, it } from 'vitest';
import { checkTimestampWindow, IdSchema, ID_MAX_LENGTH, ReadingSchema, toIssues, validationError } from '@energy-pipeline/contract';

const valid = { site_id: 'site-001', device_id: 'device-001', power_reading: 1500.5, timestamp: '2024-01-15T10:30:00Z' };

const issuesOf = (body: unknown) => {
  const r = ReadingSchema.safeParse(body);
  return r.success ? [] : toIssues('body', r.error.issues);
};

describe('ReadingSchema', () => {
  it("accepts the seed's example and an optional reading_id", () => {
    expect(ReadingSchema.parse(valid)).toEqual(valid);
    expect(ReadingSchema.parse({ ...valid, reading_id: 'r-1' }).reading_id).toBe('r-1');
  });

  it.each([
    ['negative power for export', { power_reading: -3200 }],
    ['zero power', { power_reading: 0 }],
    ['an offset zone', { timestamp: '2024-01-15T11:30:00+01:00' }],
    ['fractional seconds', { timestamp: '2024-01-15T10:30:00.123Z' }],
    ['MAC-style device id', { device_id: 'aa:bb:cc:dd:ee:ff' }],
  ])('accepts %s', (_, patch) => {
    expect(ReadingSchema.safeParse({ ...valid, ...patch }).success).toBe(true);
  });

  it.each([
    ['site_id', { site_id: '' }],
    ['site_id', { site_id: 'a'.repeat(129) }],
    ['site_id', { site_id: 'site 1' }],
    ['device_id', { device_id: 'dev/1' }],
    ['device_id', { device_id: '{tag}' }],
    ['device_id', { device_id: 42 }],
    ['power_reading', { power_reading: '1500' }],
    ['power_reading', { power_reading: 2e9 }],
    ['power_reading', { power_reading: -2e9 }],
    ['power_reading', { power_reading: Number.POSITIVE_INFINITY }],
    ['power_reading', { power_reading: Number.NaN }],
    ['timestamp', { timestamp: '2024-01-15T10:30:00' }],
    ['timestamp', { timestamp: '15/01/2024' }],
    ['timestamp', { timestamp: 1705312200 }],
    ['reading_id', { reading_id: '' }],
  ])('rejects a bad %s and names it', (field, patch) => {
    const issues = issuesOf({ ...valid, ...patch });
    expect([...new Set(issues.map((i) => i.path))]).toEqual([field]);
  });

  it('refuses a timestamp from before 2000, the mark of an unset device clock', () => {
    expect(ReadingSchema.safeParse({ ...valid, timestamp: '2000-01-01T00:00:00Z' }).success).toBe(true);
    const unset = issuesOf({ ...valid, timestamp: '1970-01-01T00:00:00Z' });
    expect(unset).toEqual([expect.objectContaining({ path: 'timestamp', message: expect.stringContaining('clock') })]);
  });

  it('names a missing field', () => {
    const { power_reading: _, ...rest } = valid;
    expect(issuesOf(rest).map((i) => i.path)).toEqual(['power_reading']);
  });

  it('rejects an unknown field such as a typo, naming it', () => {
    const { power_reading, ...rest } = valid;
    const issues = issuesOf({ ...rest, power_readng: power_reading });
    expect(issues.map((i) => i.path).sort()).toEqual(['power_reading', 'power_readng']);
    expect(issues.find((i) => i.path === 'power_readng')?.message).toBe('is not a known field');
  });

  it('builds an error body whose message names the fields', () => {
    const body = validationError(issuesOf({ ...valid, site_id: '', extra: 1 }));
    expect(body.error).toBe('validation_failed');
    expect(body.message).toContain('site_id');
    expect(body.message).toContain('extra');
  });
});

describe('ids', () => {
  const id = (s: string) => IdSchema.safeParse(s);

  it.each([
    ['a German meter', 'Zähler-1'],
    ['a Japanese site', '東京-site'],
    ['Devanagari with its combining vowel signs', 'सौर-पैनल'],
    ['Arabic-Indic digits', 'عداد-٣'],
    ['a letter outside the BMP', '𠀋-1'],
    ['a digit first', '1st-floor'],
  ])('accepts %s', (_, value) => {
    expect(id(value)).toMatchObject({ success: true, data: value });
  });

  it('normalizes to NFKC, so two spellings of one name are one id', () => {
    const composed = 'Z\u00e4hler-1';
    const decomposed = 'Za\u0308hler-1';
    expect(decomposed).not.toBe(composed);
    expect(IdSchema.parse(decomposed)).toBe(composed);
    // Compatibility variants too: full-width letters and digits from an input method, a ligature.
    expect(IdSchema.parse('\uff53\uff49\uff54\uff45\uff11')).toBe('site1');
    expect(IdSchema.parse('\ufb01eld-2')).toBe('field-2');
    // Normalizing twice changes nothing (the SDK normalizes, then the server again).
    expect(IdSchema.parse(IdSchema.parse(decomposed))).toBe(composed);
    // Case is not folded.
    expect(IdSchema.parse('Site-1')).not.toBe(IdSchema.parse('site-1'));
  });

  it.each([
    ['a slash', 'a/b'],
    ['a full-width slash (NFKC makes it a slash)', 'a\uff0fb'],
    ['braces', 'x{tag}'],
    ['a comma', 'a,b'],
    ['a semicolon', 'a;b'],
    ['an at sign', 'a@b'],
    ['a small at sign (NFKC makes it @)', 'a\ufe6bb'],
    ['a hash', 'a#b'],
    ['a space', 'a b'],
    ['a no-break space', 'a\u00a0b'],
    ['an ideographic space', '東京\u3000site'],
    ['a tab', 'a\tb'],
    ['a control character', 'a\u0007b'],
    ['a zero-width joiner', 'a\u200db'],
    ['a right-to-left override', 'a\u202eb'],
    ['a lone surrogate', 'a\ud800'],
    ['an emoji', 'site-\u{1f600}'],
    ['a combining mark first', '\u0301a'],
    ['a dash first', '-a'],
    ['nothing', ''],
  ])('rejects %s', (_, value) => {
    expect(id(value).success).toBe(false);
  });

  it('counts its length in characters (code points) after normalizing, not in UTF-16 units or bytes', () => {
    expect(id('a'.repeat(ID_MAX_LENGTH)).success).toBe(true);
    expect(id('𠀋'.repeat(ID_MAX_LENGTH)).success).toBe(true); // 256 UTF-16 units, 512 bytes
    expect(id('ä'.repeat(ID_MAX_LENGTH)).success).toBe(true);
    expect(id('a\u0308'.repeat(ID_MAX_LENGTH)).success).toBe(true); // 256 before NFKC, 128 after
    const tooLong = id('𠀋'.repeat(ID_MAX_LENGTH + 1));
    expect(tooLong.success).toBe(false);
    expect(tooLong.error?.issues.map((i) => i.message)).toEqual([`must be at most ${ID_MAX_LENGTH} characters`]);
  });

  it('normalizes every id of a reading', () => {
    const r = ReadingSchema.parse({ ...valid, site_id: 'Za\u0308hler', device_id: '\uff44\uff11', reading_id: 'r\u0308' });
    expect(r).toMatchObject({ site_id: 'Z\u00e4hler', device_id: 'd1', reading_id: 'r\u0308'.normalize('NFKC') });
  });
});

describe('checkTimestampWindow', () => {
  const window = { maxFutureSkewMs: 5 * 60_000, maxAgeMs: 24 * 3600_000 };
  const now = Date.parse('2024-01-15T12:00:00Z');

  it('accepts a timestamp inside the window, at either edge', () => {
    expect(checkTimestampWindow('2024-01-15T12:05:00Z', window, now)).toBeNull();
    expect(checkTimestampWindow('2024-01-14T12:00:00Z', window, now)).toBeNull();
  });

  it('rejects one too far in the future or too old', () => {
    expect(checkTimestampWindow('2024-01-15T12:05:01Z', window, now)).toMatch(/future/);
    expect(checkTimestampWindow('2024-01-14T11:59:59Z', window, now)).toMatch(/old/);
  });

  it('takes any age when no maximum is set', () => {
    expect(checkTimestampWindow('2001-06-01T00:00:00Z', { ...window, maxAgeMs: 0 }, now)).toBeNull();
  });

  it('honours the zone offset', () => {
    // 13:04+01:00 is 12:04Z: inside the five-minute skew.
    expect(checkTimestampWindow('2024-01-15T13:04:00+01:00', window, now)).toBeNull();
  });
});
