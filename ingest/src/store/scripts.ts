import type { Result } from 'ioredis';
import { defineLuaCommands, type RedisClient } from '@energy-pipeline/server-kit';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** lua/count-requests.lua: the key's total in its window and the ms left of it. */
    countRequests(key: string, count: number, windowMs: number): Result<[total: number, ttlMs: number], Context>;
  }
}

// Lua lives in ingest/lua so that src/ (tsx) and dist/ (compiled) find it at the same place.
const LUA_DIR = new URL('../../lua/', import.meta.url);

/** Registers ingest's scripts on a connection. */
export function defineScripts<T extends RedisClient>(redis: T): T {
  return defineLuaCommands(redis, LUA_DIR, {
    countRequests: { file: 'count-requests', keys: 1 },
  });
}
