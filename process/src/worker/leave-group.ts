import { defineLuaPort, type LuaCall, type RedisClient } from '@energy-pipeline/server-kit';

const LUA_DIR = new URL('../../lua/', import.meta.url);

/**
 * The typed port of process/lua/leave-group.lua: removes a consumer from its group only when it
 * holds no pending entries (XGROUP DELCONSUMER would drop them with it).
 */
export class LeaveGroup {
  private readonly call: LuaCall;

  constructor(redis: RedisClient) {
    this.call = defineLuaPort(redis, LUA_DIR, 'leave-group', 1);
  }

  /** 1 when the consumer left, 0 when it still holds entries and stays. */
  async run(stream: string, { group, consumer }: { group: string; consumer: string }): Promise<0 | 1> {
    return (await this.call([stream], [group, consumer])) === 1 ? 1 : 0;
  }
}
