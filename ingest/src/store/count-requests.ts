import { defineLuaPort, type LuaCall, type RedisClient } from '@energy-pipeline/server-kit';

/** What lua/count-requests.lua answers: the key's total in its window, and the ms left of it. */
export interface SharedCount {
  total: number;
  ttlMs: number;
}

const LUA_DIR = new URL('../../lua/', import.meta.url);

/**
 * The typed port of ingest/lua/count-requests.lua: adds what one replica counted for a
 * rate-limit key to the key's shared count, starting its window when it is the first.
 */
export class CountRequests {
  private readonly call: LuaCall;

  constructor(redis: RedisClient) {
    this.call = defineLuaPort(redis, LUA_DIR, 'count-requests', 1);
  }

  async run(key: string, { count, windowMs }: { count: number; windowMs: number }): Promise<SharedCount> {
    const [total, ttlMs] = (await this.call([key], [count, windowMs])) as [number, number];
    return { total, ttlMs };
  }
}
