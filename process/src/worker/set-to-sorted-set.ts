import { defineLuaPort, type LuaCall, type RedisClient } from '@energy-pipeline/server-kit';

const LUA_DIR = new URL('../../lua/', import.meta.url);

/**
 * The typed port of process/lua/set-to-sorted-set.lua: turns a set of ids into a sorted set of
 * the same members, every score 0, in one step (the one-off migration of sorted-sets.ts).
 */
export class SetToSortedSet {
  private readonly call: LuaCall;

  constructor(redis: RedisClient) {
    this.call = defineLuaPort(redis, LUA_DIR, 'set-to-sorted-set', 1);
  }

  /** Members moved, or -1 when the key was not a set. */
  async run(key: string): Promise<number> {
    return (await this.call([key], [])) as number;
  }

  /** The same call, added to a pipeline of this connection; its reply is what run() resolves to. */
  queue(pipeline: ReturnType<RedisClient['pipeline']>, key: string): void {
    this.call.queue(pipeline, [key], []);
  }
}
