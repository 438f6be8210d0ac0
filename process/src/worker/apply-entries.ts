import { defineLuaPort, type LuaCall, type RedisClient, type RedisKeys } from '@energy-pipeline/server-kit';
import type { KeyInfo, Share } from './fold.js';

/** A reading of an entry that cannot be applied: its place in the entry, why, and its fields as JSON. */
export type Bad = [ord: number, reason: string, detail: string, fields: string];

/** An entry as the processor prepares it: its shares by key name, before a call numbers the keys. */
export type Payload =
  | { id: string; deleted: true }
  | { id: string; dead: [reason: string, detail: string, deliveries: number, fields: string] }
  | { id: string; n: number; shares: Map<string, Share>; sites: Map<string, Set<string>>; bad: Bad[] };

/** What lua/apply-entries.lua answers for a call. */
export interface ApplyReply {
  /** Per entry, in order: 0 acknowledged elsewhere already (not applied here), 1 applied, 2 dead-lettered. */
  outcomes: number[];
  /** Readings applied. */
  applied: number;
  /** Readings dead-lettered. */
  deadLettered: number;
}

const LUA_DIR = new URL('../../lua/', import.meta.url);

/**
 * The typed port of process/lua/apply-entries.lua: applies entries and acknowledges them in one
 * step. It owns the batch's encoding, spelled out in the script's header: each touched key
 * numbered once (`k`), and each entry's shares by key number (`e`).
 */
export class ApplyEntries {
  private readonly call: LuaCall;

  constructor(redis: RedisClient) {
    this.call = defineLuaPort(redis, LUA_DIR, 'apply-entries', 4);
  }

  async run(
    keys: Pick<RedisKeys, 'stream' | 'stats' | 'deadLetters' | 'sites' | 'siteDevices'>,
    { group, nowMs, entries, info }: { group: string; nowMs: number; entries: readonly Payload[]; info: ReadonlyMap<string, KeyInfo> },
  ): Promise<ApplyReply> {
    const batch = encodeBatch(entries, info, keys.siteDevices);
    const [outcomes, applied, deadLettered] = (await this.call([keys.stream, keys.stats, keys.deadLetters, keys.sites], [group, nowMs, batch])) as [
      number[],
      number,
      number,
    ];
    return { outcomes, applied, deadLettered };
  }
}

/** The script's ARGV[3]: `{ k: [[key, kind, expiry, span]…], e: [entry…] }`, keys numbered from 1 as Lua counts. */
export function encodeBatch(entries: readonly Payload[], info: ReadonlyMap<string, KeyInfo>, siteDevices: (site: string) => string): string {
  const index = new Map<string, number>();
  const keys: [string, number, number, number][] = [];
  const numbered = (key: string) => {
    let i = index.get(key);
    if (i === undefined) {
      const { kind, expire, span } = info.get(key)!;
      keys.push([key, kind, expire, span]);
      i = keys.length;
      index.set(key, i);
    }
    return i;
  };
  const e = entries.map((p) => {
    if (!('shares' in p)) return p;
    const c = [...p.shares].map(([key, s]) => [
      numbered(key), s.n, s.sum, s.minText, s.maxText,
      s.devices ? [...s.devices].map(([device, part]) => [device, part.n, part.sum]) : [],
      ...(s.latest ? [[s.latest.at, s.latest.ord, s.latest.timestamp, s.latest.power]] : []),
    ]);
    const z = [...p.sites].map(([site, devices]) => [siteDevices(site), site, [...devices]]);
    return { id: p.id, n: p.n, c, z, bad: p.bad };
  });
  return JSON.stringify({ k: keys, e });
}
