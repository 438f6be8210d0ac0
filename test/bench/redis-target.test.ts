import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashTag, ingestKeys, redisKeys, shardStreams } from '@energy-pipeline/server-kit';
import { clearStreams, type RedisTarget } from '../../scripts/bench/redis-target.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';

let server: TestRedis;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => server?.stop());

describe('the bench on a Redis it shares (--redis-url)', () => {
  it("deletes a sharded stream's shards and every key carrying a shard's tag, and nothing else", async () => {
    // Not private: the bench may not flush it.
    const target: RedisTarget = { url: server.url, env: {}, client: server.client, description: 'shared', private: false, nodes: () => [server.client], stop: async () => {} };
    const streams = shardStreams('bench-shared', 6);
    for (const stream of streams) {
      await server.client.xadd(stream, '*', 'k', 'v');
      await server.client.hset(ingestKeys(stream).dedupe, 'd', '1');
      await server.client.hset(redisKeys({ stream, group: 'g' }).stats, 'processed', '1');
    }
    // A neighbour's keys: another stream, and a key whose name merely contains a shard's tag.
    await server.client.set('ep:{other}:g:stats', '1');
    await server.client.set(`x${hashTag(streams[0]!)}`, '1');
    await clearStreams(target, streams);
    expect((await server.client.keys('*')).sort()).toEqual([`x${hashTag(streams[0]!)}`, 'ep:{other}:g:stats'].sort());
  });
});
