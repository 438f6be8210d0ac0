import { defineLuaPort, type LuaCall, type RedisClient } from '@energy-pipeline/server-kit';

const LUA_DIR = new URL('../../lua/', import.meta.url);

/**
 * The typed port of process/lua/trim-stream.lua: trims a stream below what every group has
 * acknowledged, keeping the entries younger than `keepMs`.
 */
export class TrimStream {
  private readonly call: LuaCall;

  constructor(redis: RedisClient) {
    this.call = defineLuaPort(redis, LUA_DIR, 'trim-stream', 1);
  }

  /** Entries removed. `keepMs`: 0 keeps no entry for its age alone. */
  async run(stream: string, { keepMs }: { keepMs: number }): Promise<number> {
    return (await this.call([stream], [keepMs])) as number;
  }
}
