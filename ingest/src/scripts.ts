import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';

// Lua lives in ingest/lua so that src/ (tsx) and dist/ (compiled) find it at the same place.
const luaDir = new URL('../lua/', import.meta.url);
const lua = (name: string) => readFileSync(new URL(`${name}.lua`, luaDir), 'utf8');

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** lua/append-once.lua: [stream id, 1 if it is the original of a repeat else 0]. */
    appendOnce(...keysThenArgs: (string | number)[]): Result<[string, number], Context>;
  }
}

/** Registers ingest's scripts on a connection (EVALSHA, falling back to EVAL after a restart). */
export function defineScripts(redis: Redis): Redis {
  redis.defineCommand('appendOnce', { numberOfKeys: 2, lua: lua('append-once') });
  return redis;
}
