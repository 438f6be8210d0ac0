/**
 * fast-check generators of hostile requests for the fuzz tests of both services. Every body
 * generated here is INVALID by construction (a valid reading with at least one field made
 * wrong, or no reading at all), so a test may assert that nothing reached the stream.
 */
import fc from 'fast-check';

const DAY_MS = 24 * 3600_000;

/** A reading that would be accepted, to be spoiled. */
const validReading = (): Record<string, unknown> => ({
  site_id: 'site-001',
  device_id: 'device-001',
  power_reading: 1500.5,
  timestamp: new Date().toISOString(),
  reading_id: 'r-1',
});

const junk = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

/** Never a valid site_id, device_id or reading_id (Unicode letters are valid; separators, also after NFKC, are not). */
const badId = fc.oneof(
  fc.constantFrom(
    '', ' ', 'a/b', '{energy_readings}', '-lead', '.dot', 'a b', '__proto__', 'x'.repeat(129), '\u0000', '\ud800',
    'a@b', 'a,b', 'a;b', 'a#b', 'a\uff0fb', '東京\u3000site', 'a\u200db', '\u0301a', '😀',
  ),
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `/${s}`),
  fc.integer(),
  junk,
);

/** Never a valid power_reading: numbers as strings, out of range, not numbers. */
const badPower = fc.oneof(
  fc.constantFrom('1500', '1500.5', '1e3', ' 1 ', 'NaN', 'Infinity', '0x10', '', '-0'),
  fc.double({ min: 1e9, max: Number.MAX_VALUE, noNaN: true, minExcluded: true }),
  fc.double({ min: -Number.MAX_VALUE, max: -1e9, noNaN: true, maxExcluded: true }),
  fc.integer().map(String),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.double(), { maxLength: 2 }),
  fc.object({ maxDepth: 1 }),
);

/** Never a valid timestamp: edges of the calendar and of the accepted window, no zone, not strings. */
const badTimestamp = fc.oneof(
  fc.constantFrom(
    '1970-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '+275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00Z', '2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2024-01-15T24:00:00Z',
    '2024-01-15T10:30:60Z', '2024-01-15T10:30:00', '2024-01-15', '2024-01-15T10:30:00+25:00', '', 'now',
  ),
  // Just outside what is accepted: beyond the 5 min skew ahead, or before 2000 (an unset clock).
  fc.integer({ min: 6 * 60_000, max: 365 * DAY_MS }).map((ms) => new Date(Date.now() + ms).toISOString()),
  fc.integer({ min: 1, max: 30 * 365 * DAY_MS }).map((ms) => new Date(Date.UTC(2000, 0, 1) - ms).toISOString()),
  fc.integer({ min: 0, max: 2 ** 42 }),
  fc.constant(null),
  junk,
);

const field = fc.constantFrom('site_id', 'device_id', 'power_reading', 'timestamp', 'reading_id');
const requiredField = fc.constantFrom('site_id', 'device_id', 'power_reading', 'timestamp');
const badValueFor: Record<string, fc.Arbitrary<unknown>> = {
  site_id: badId,
  device_id: badId,
  reading_id: badId,
  power_reading: badPower,
  timestamp: badTimestamp,
};

/** A reading object with at least one thing wrong with it. */
const invalidReading: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  field.chain((f) => badValueFor[f]!.map((v) => ({ ...validReading(), [f]: v }))),
  requiredField.map((f) => {
    const r = validReading();
    delete r[f];
    return r;
  }),
  fc
    .string({ minLength: 1, maxLength: 12 })
    .filter((k) => !['site_id', 'device_id', 'power_reading', 'timestamp', 'reading_id'].includes(k))
    .map((k) => ({ ...validReading(), [k]: 1 })),
);

/** The members of an object's JSON text, without its braces. */
const members = (o: Record<string, unknown>) => JSON.stringify(o).slice(1, -1);

/** Raw JSON texts (and non-JSON) a JSON.stringify of an object could never produce. */
const hostileText = (wrapInBatch: boolean): fc.Arbitrary<string> => {
  const wrap = (object: string) => (wrapInBatch ? `{"readings":[${object}]}` : object);
  return fc.oneof(
    // Prototype pollution attempts beside an otherwise valid reading.
    fc.constantFrom(
      `{"__proto__":{"polluted":1},${members(validReading())}}`,
      `{"constructor":{"prototype":{"polluted":1}},${members(validReading())}}`,
      `{${members(validReading())},"__proto__":null}`,
    ).map(wrap),
    // Duplicate keys: the last one wins in JSON.parse, and it is always the bad one.
    field.chain((f) => badValueFor[f]!.map((v) => wrap(`{${members(validReading())},${JSON.stringify(f)}:${JSON.stringify(v) ?? 'null'}}`))),
    // Deep nesting, balanced or not.
    fc.integer({ min: 1, max: 20_000 }).map((n) => wrap(`{"site_id":${'['.repeat(n)}${']'.repeat(n)}}`)),
    fc.integer({ min: 1, max: 20_000 }).map((n) => '{"a":'.repeat(n)),
    fc.integer({ min: 1, max: 5_000 }).map((n) => `{"readings":${'['.repeat(n)}1${']'.repeat(n)}}`),
    // Huge strings (some past the 1 MiB body limit) and huge numbers.
    fc.constantFrom(1_000, 100_000, 1_100_000).map((n) => wrap(`{${members(validReading())},"device_id":"${'d'.repeat(n)}"}`)),
    fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '1'.repeat(5000), '0.' + '0'.repeat(400) + '1e999').map(
      (n) => wrap(`{${members({ ...validReading(), power_reading: 0 }).replace('"power_reading":0', `"power_reading":${n}`)}}`),
    ),
    // Lone surrogates and escapes.
    fc.constantFrom('\\ud800', '\\udfff', '\\u0000', '\\uFFFF').map((e) => wrap(`{${members({ ...validReading(), site_id: 'X' })}}`.replace('"X"', `"s${e}"`))),
    // Truncated JSON.
    fc.integer({ min: 1, max: 80 }).map((n) => wrap(JSON.stringify(validReading())).slice(0, -n)),
    // Well-formed readings with one thing wrong: a bad value, a missing field or an unknown one.
    invalidReading.map((r) => wrap(JSON.stringify(r))),
    // Not JSON at all, or JSON of the wrong kind.
    fc.string({ maxLength: 200 }).filter((s) => !looksValid(s)),
    fc.constantFrom('null', 'true', '0', '"x"', '[]', '{}', '[{}]', '{"readings":null}', '{"readings":{}}', '{"readings":[]}'),
  );
};

/** Guards the pure-random branch against the (astronomically unlikely) valid body. */
function looksValid(text: string) {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && ('site_id' in v || 'readings' in v);
  } catch {
    return false;
  }
}

/** Bodies as bytes: the texts above, some with invalid UTF-8 spliced into a string value. */
export const hostileBody = (wrapInBatch: boolean): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { weight: 4, arbitrary: hostileText(wrapInBatch).map((t) => Buffer.from(t, 'utf8')) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82])
        .map((bytes) => {
          const text = JSON.stringify(wrapInBatch ? { readings: [{ ...validReading(), site_id: 'SPLIT' }] } : { ...validReading(), site_id: 'SPLIT' });
          const [before, after] = text.split('SPLIT');
          return Buffer.concat([Buffer.from(`${before}s`), Buffer.from(bytes), Buffer.from(after!)]);
        }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  );

const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_.:;,=/+*?"\'()<>@[]{}\\|~!#$%&^`'), maxLength: 60 });

/** Request headers, from plausible to plainly wrong; never an invalid header character (Node refuses those itself). */
export const hostileHeaders: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16',
        'APPLICATION/JSON', 'application/json-patch+json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
        'text/plain', 'text/json', '', ';', 'application/json;;;', 'application/json; boundary="', '*/*',
      ),
      printable,
    ),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'gzip, gzip', 'x-unknown', ''),
    authorization: fc.oneof(fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer x', `Bearer ${'a'.repeat(2000)}`), printable),
    accept: fc.oneof(fc.constantFrom('text/plain;version=0.0.4', 'application/openmetrics-text', '*/*', 'application/json', 'text/plain;q=abc'), printable),
    'x-request-id': fc.oneof(printable, fc.constant('x'.repeat(4000))),
    'content-length': fc.constantFrom('0', '1', '-1', 'abc', '99999999999'),
    'transfer-encoding': fc.constantFrom('chunked', 'gzip'),
  },
  { requiredKeys: [] },
);

/** Query strings (with the `?`), including prototype-pollution and malformed percent-encoding. */
export const hostileQuery: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '?__proto__[polluted]=1', '?constructor[prototype][polluted]=1', '?a[]=1&a[]=2', '?%', '?%ZZ', '?%E0%A4%A', '?a=%00',
    '?site_id=site-001&power_reading=1', '?=&=&', `?x=${'y'.repeat(10_000)}`, '?a=1&a=2&a=3', '?;;', '?format=text',
  ),
  fc.string({ unit: fc.constantFrom(...'abc019=&[]%_.-+~'), maxLength: 80 }).map((s) => `?${s}`),
);
