// crypto.hash: one-shot, half the cost of createHash per request (Node >= 20.12).
import { hash, timingSafeEqual } from 'node:crypto';
import { IdSchema, API_KEY_SCOPES, type ApiKeyScope } from '@energy-pipeline/contract';

/**
 * An accepted API key. Only the SHA-256 of the token is configured: the tokens are long random
 * strings (e.g. `openssl rand -hex 32`), for which a plain hash is as good as a slow one and
 * costs microseconds per request.
 */
export interface ApiKey {
  /** First 12 hex digits of the hash: names the key in logs and rate-limit counters, reveals nothing. */
  id: string;
  hash: Buffer;
  /** What the key may do, as configured; `admin` implies `read` (see hasScope). */
  scopes: ReadonlySet<ApiKeyScope>;
  /** Sites the key may write or read; null for every site. Never set for an admin key. */
  sites: ReadonlySet<string> | null;
}

const ENTRY = /^([0-9a-f]{64})(?:@([^:]*))?(?::(.*))?$/i;
const FORMAT = '<64 hex digits of sha256>[@scope,scope…][:site_id,site_id…]';

/**
 * Parses a key list, the format both services read from API_KEYS and API_KEYS_FILE: entries
 * separated by whitespace, newlines or `;`, `#` starting a comment to the end of its line, each
 *
 *     <sha256 hex of the token>[@<scope>,<scope>…][:<site_id>,<site_id>…]
 *
 * Scopes are `write` (POST readings), `read` (queries) and `admin` (dead-letter replay and delete;
 * implies read); without `@…` a key is `write`, which keeps older ingest key files meaning what
 * they meant. A site list limits write and read to those sites (site ids are normalized as
 * readings' are); an admin key cannot have one, because dead letters hold every site's readings.
 * Site ids may contain `:` themselves, which is why the hash (always 64 hex digits) and the
 * scopes (never a `:`) come first. Returns the keys, or a message naming the bad entry without
 * printing more of it than its start (it may be a token pasted by mistake).
 */
export function parseApiKeys(text: string): ApiKey[] | string {
  const entries = text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join(' ')
    .split(/[\s;]+/)
    .filter(Boolean);
  const keys: ApiKey[] = [];
  for (const [i, entry] of entries.entries()) {
    const where = `entry ${i + 1} ("${entry.length > 16 ? `${entry.slice(0, 16)}…` : entry}")`;
    const match = ENTRY.exec(entry);
    if (!match) return `${where} is not ${FORMAT}`;
    const [, hexRaw, scopeList, siteList] = match;
    const hex = hexRaw!.toLowerCase();
    const name = `the key ${hex.slice(0, 12)}…`;

    const scopes = new Set<ApiKeyScope>();
    for (const scope of scopeList === undefined ? ['write'] : scopeList.split(',')) {
      const s = scope.toLowerCase();
      if (!(API_KEY_SCOPES as readonly string[]).includes(s)) {
        return `${where}: "${scope}" in ${name} is not a scope; use ${API_KEY_SCOPES.join(', ')}`;
      }
      scopes.add(s as ApiKeyScope);
    }

    let sites: Set<string> | null = null;
    if (siteList !== undefined) {
      sites = new Set();
      for (const site of siteList.split(',')) {
        const parsed = IdSchema.safeParse(site);
        if (!parsed.success) return `${where}: "${site}" in ${name} is not a valid site id (${parsed.error.issues[0]?.message})`;
        sites.add(parsed.data);
      }
      if (scopes.has('admin')) {
        return `${where}: ${name} has the admin scope and a site list; admin keys act on every site's dead letters, so they cannot be limited to sites`;
      }
    }

    if (keys.some((k) => k.hash.toString('hex') === hex)) return `${where}: ${name} is listed twice`;
    keys.push({ id: hex.slice(0, 12), hash: Buffer.from(hex, 'hex'), scopes, sites });
  }
  return keys;
}

/** Hex SHA-256 of a token: what an operator puts in API_KEYS (`printf %s "$TOKEN" | sha256sum`). */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/**
 * The key a token belongs to, or null. Every configured hash is compared, in constant time, even
 * after a match: how long this takes says nothing about which key, or how much of it, matched.
 */
export function findKey(keys: readonly ApiKey[], token: string): ApiKey | null {
  const digest = hash('sha256', token, 'buffer');
  let found: ApiKey | null = null;
  for (const key of keys) {
    if (timingSafeEqual(digest, key.hash) && found === null) found = key;
  }
  return found;
}

/** How many accepted tokens keyFinder remembers; a fleet's devices share a few keys. */
const REMEMBERED_TOKENS = 1024;

/**
 * findKey for a service's keys, remembering the tokens it accepted: a device sends the same
 * token with every request, and hashing it each time showed in a single reading's profile
 * (`npm run bench:profile -- --only single`; docs/performance.md). Only accepted tokens are remembered (a scan of
 * wrong ones cannot fill it) and at most REMEMBERED_TOKENS of them; that a remembered token is
 * found sooner says only that it is valid, which the answer says anyway.
 */
export function keyFinder(keys: readonly ApiKey[]): (token: string) => ApiKey | null {
  const accepted = new Map<string, ApiKey>();
  return (token) => {
    const known = accepted.get(token);
    if (known) return known;
    const key = findKey(keys, token);
    if (key) {
      if (accepted.size >= REMEMBERED_TOKENS) accepted.clear();
      accepted.set(token, key);
    }
    return key;
  };
}

/** Whether `key` has `scope`; `admin` implies `read`. */
export function hasScope(key: ApiKey, scope: ApiKeyScope): boolean {
  return key.scopes.has(scope) || (scope === 'read' && key.scopes.has('admin'));
}

/** Whether `key` may write or read `siteId` (a normalized id); no key means auth is off. */
export function allowsSite(key: ApiKey | null, siteId: string): boolean {
  return key === null || key.sites === null || key.sites.has(siteId);
}
