import { defineLuaPort, type LuaCall, type RedisClient } from '@energy-pipeline/server-kit';

const LUA_DIR = new URL('../../lua/', import.meta.url);

/**
 * The typed port of process/lua/replay-dead-letter.lua: puts a dead letter back into its stream
 * as a new entry and deletes it, in one step, so that a replay neither duplicates nor loses it.
 */
export class ReplayDeadLetter {
  private readonly call: LuaCall;

  constructor(redis: RedisClient) {
    this.call = defineLuaPort(redis, LUA_DIR, 'replay-dead-letter', 2);
  }

  /** The new entry's id, or null when there is no such dead letter (any more). */
  async run(keys: { stream: string; deadLetters: string }, { id, fields }: { id: string; fields: Record<string, string> }): Promise<string | null> {
    const reply = await this.call([keys.stream, keys.deadLetters], [id, ...Object.entries(fields).flat()]);
    return typeof reply === 'string' ? reply : null;
  }
}
