import { describe, expect, it } from 'vitest';
import { allowsSite, findKey, hasScope, hashToken, keyFinder, parseApiKeys, type ApiKey } from '@energy-pipeline/server-kit';

const a = hashToken('a');
const b = hashToken('b');
const c = hashToken('c');

const parsed = (text: string): ApiKey[] => {
  const keys = parseApiKeys(text);
  if (typeof keys === 'string') throw new Error(keys);
  return keys;
};
const shape = (k: ApiKey) => ({ id: k.id, scopes: [...k.scopes].sort(), sites: k.sites && [...k.sites] });

describe('API key files', () => {
  it('parses hashes with optional scopes and sites, separated by newlines, spaces or ;, with comments', () => {
    const keys = parsed(`# fleet\n${a.toUpperCase()} ; ${b}@read,write:s1,mac:00:11 # gateway\n${c}@admin\n`);
    expect(keys.map(shape)).toEqual([
      { id: a.slice(0, 12), scopes: ['write'], sites: null },
      { id: b.slice(0, 12), scopes: ['read', 'write'], sites: ['s1', 'mac:00:11'] },
      { id: c.slice(0, 12), scopes: ['admin'], sites: null },
    ]);
    expect(findKey(keys, 'b')?.id).toBe(b.slice(0, 12));
    expect(findKey(keys, 'd')).toBeNull();
  });

  it('finds keys as findKey does when it remembers the accepted tokens, and never remembers a wrong one', () => {
    const keys = parsed(`${a} ${b}@read`);
    const find = keyFinder(keys);
    for (let round = 0; round < 3; round++) {
      expect(find('a')).toBe(keys[0]);
      expect(find('b')).toBe(keys[1]);
      expect(find('d')).toBeNull();
      expect(find('a ')).toBeNull();
      expect(find('')).toBeNull();
    }
  });

  it("keeps today's ingest files meaning what they meant: no scope is write", () => {
    expect(parsed(`${a}:site-001,site:002`).map(shape)).toEqual([{ id: a.slice(0, 12), scopes: ['write'], sites: ['site-001', 'site:002'] }]);
  });

  it('normalizes site ids as readings are normalized', () => {
    const [key] = parsed(`${a}@read:Za\u0308hler-1,\uff53\uff11`);
    expect([...key!.sites!]).toEqual(['Z\u00e4hler-1', 's1']);
    expect(allowsSite(key!, 'Z\u00e4hler-1')).toBe(true);
  });

  it.each([
    ['a plaintext token', 'my-secret-token', /entry 1 \("my-secret-token"\) is not <64 hex digits of sha256>\[@scope/],
    ['a long plaintext token, cut in the message', `${a} ${'s3cr3t'.repeat(10)}`, /entry 2 \("s3cr3ts3cr3ts3cr…"\)/],
    ['a short hash', 'abc123', /not <64 hex/],
    ['a hash without its colon', `${a}site`, /not <64 hex/],
    ['an unknown scope', `${a}@write,root`, /"root" in the key .* is not a scope; use write, read, admin/],
    ['an empty scope list', `${a}@:s1`, /"" in the key .* is not a scope/],
    ['an empty site list', `${a}:`, /"" in the key .* is not a valid site id/],
    ['a bad site', `${a}:site/1`, /"site\/1" in the key .* is not a valid site id/],
    ['a site with a separator NFKC reveals', `${a}:site\uff0f1`, /is not a valid site id/],
    ['an admin key limited to sites', `${a}@admin:s1`, /has the admin scope and a site list/],
    ['an admin key limited to sites, among other scopes', `${a}@read,admin:s1`, /has the admin scope and a site list/],
    ['a key listed twice', `${a}\n${a}@read`, /entry 2 .* is listed twice/],
  ])('refuses %s, naming the entry', (_, text, message) => {
    const result = parseApiKeys(text);
    expect(typeof result).toBe('string');
    expect(result).toMatch(message);
    expect(result).not.toContain('s3cr3ts3cr3ts3cr3t');
  });

  it('gives admin the read scope too, and nothing else', () => {
    const [writer, reader, admin] = parsed(`${a} ${b}@read ${c}@admin`);
    expect([hasScope(writer!, 'write'), hasScope(writer!, 'read'), hasScope(writer!, 'admin')]).toEqual([true, false, false]);
    expect([hasScope(reader!, 'write'), hasScope(reader!, 'read'), hasScope(reader!, 'admin')]).toEqual([false, true, false]);
    expect([hasScope(admin!, 'write'), hasScope(admin!, 'read'), hasScope(admin!, 'admin')]).toEqual([false, true, true]);
  });

  it('limits a key with a site list to those sites, and no key (auth off) to none', () => {
    const [any, some] = parsed(`${a}@read ${b}@read:s1`);
    expect(allowsSite(any!, 'elsewhere')).toBe(true);
    expect(allowsSite(some!, 's1')).toBe(true);
    expect(allowsSite(some!, 's2')).toBe(false);
    expect(allowsSite(null, 's2')).toBe(true);
  });
});
