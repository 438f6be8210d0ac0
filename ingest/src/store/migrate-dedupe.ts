import { defineLuaPort, ingestKeys, type RedisClient } from '@energy-pipeline/server-kit';

/** The dedupe hash's format this ingest writes (dedupe-format.ts); a shard whose marker says so needs nothing. */
export const DEDUPE_FORMAT = '3';

export interface MigrationReport {
  /** Device headers rewritten from an earlier format. */
  converted: number;
  /** Headers in no format known: left for an operator (their readings get 500 internal_error). */
  unreadable: number;
}

const LUA_DIR = new URL('../../lua/', import.meta.url);
const PAGE = 500;

/**
 * The typed port of lua/migrate-dedupe.lua, and the walk that drives it: every shard whose
 * `dedupeFormat` marker is not {@link DEDUPE_FORMAT} has its dedupe hash scanned (HSCAN, a page at a
 * time) and its headers in an earlier format converted; then the marker is set, so that a start
 * after it costs one GET per shard. Safe to run on several replicas at once, and to run again.
 */
export async function migrateDedupe(redis: RedisClient, streams: readonly string[]): Promise<MigrationReport> {
  const call = defineLuaPort(redis, LUA_DIR, 'migrate-dedupe', 1);
  const report: MigrationReport = { converted: 0, unreadable: 0 };
  for (const stream of streams) {
    const keys = ingestKeys(stream);
    if ((await redis.get(keys.dedupeFormat)) === DEDUPE_FORMAT) continue;
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(keys.dedupe, cursor, 'COUNT', PAGE);
      cursor = next;
      const fields = flat.filter((_, i) => i % 2 === 0);
      if (fields.length === 0) continue;
      const [converted, unreadable] = (await call([keys.dedupe], fields)) as [number, number];
      report.converted += converted;
      report.unreadable += unreadable;
    } while (cursor !== '0');
    await redis.set(keys.dedupeFormat, DEDUPE_FORMAT);
  }
  return report;
}
