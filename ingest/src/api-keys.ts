import { createHash, timingSafeEqual } from 'node:crypto';
import { IdSchema } from '@energy-pipeline/contract';

/**
 * An accepted API key. Only the SHA-256 of the token is configured: the tokens are long random
 * strings (e.g. `openssl rand -hex 32`), for which a plain hash is as good as a slow one and
 * costs microseconds per request.
 */
export interface ApiKey {
  /** First 12 hex digits of the hash: names the key in logs and rate-limit counters, reveals nothing. */
  id: string;
  hash: Buffer;
  /** Sites this key may write readings for; null for any site. */
  sites: ReadonlySet<string> | null;
}

const HASH = /^[0-9a-f]{64}$/;

/**
 * Parses a key list: entries separated by whitespace, newlines or `;`, each
 * `<sha256 hex of the token>` or `<sha256 hex>:<site_id>,<site_id>…`; `#` starts a comment
 * running to the end of its line. Site ids may contain `:` themselves, which is why the hash
 * (always 64 hex digits) comes first. Returns the keys, or a message naming the bad entry.
 */
export function parseApiKeys(text: string): ApiKey[] | string {
  const entries = text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join(' ')
    .split(/[\s;]+/)
    .filter(Boolean);
  const keys: ApiKey[] = [];
  for (const entry of entries) {
    const hex = entry.slice(0, 64).toLowerCase();
    const rest = entry.slice(64);
    if (!HASH.test(hex) || (rest !== '' && !rest.startsWith(':'))) {
      return `"${entry.slice(0, 16)}…" is not <64 hex digits of sha256>[:site,site…]`;
    }
    let sites: Set<string> | null = null;
    if (rest !== '') {
      sites = new Set(rest.slice(1).split(','));
      for (const site of sites) {
        if (!IdSchema.safeParse(site).success) return `"${site}" in the key ${hex.slice(0, 12)}… is not a valid site id`;
      }
    }
    if (keys.some((k) => k.id === hex.slice(0, 12) && k.hash.toString('hex') === hex)) {
      return `the key ${hex.slice(0, 12)}… is listed twice`;
    }
    keys.push({ id: hex.slice(0, 12), hash: Buffer.from(hex, 'hex'), sites });
  }
  return keys;
}

/** Hex SHA-256 of a token: what an operator puts in API_KEYS (`printf %s "$TOKEN" | sha256sum`). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The key a token belongs to, or null. Every configured hash is compared, in constant time, even
 * after a match: how long this takes says nothing about which key, or how much of it, matched.
 */
export function findKey(keys: readonly ApiKey[], token: string): ApiKey | null {
  const digest = createHash('sha256').update(token, 'utf8').digest();
  let found: ApiKey | null = null;
  for (const key of keys) {
    if (timingSafeEqual(digest, key.hash) && found === null) found = key;
  }
  return found;
}

/** Whether `key` may write readings for `siteId`; no key means auth is off. */
export function mayWrite(key: ApiKey | null, siteId: string): boolean {
  return key === null || key.sites === null || key.sites.has(siteId);
}
