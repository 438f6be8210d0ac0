import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import type { RedisClient } from '@energy-pipeline/server-kit';

// Lua lives in ingest/lua so that src/ (tsx) and dist/ (compiled) find it at the same place.
const luaDir = new URL('../lua/', import.meta.url);
const lua = (name: string) => readFileSync(new URL(`${name}.lua`, luaDir), 'utf8');

/** What lua/append-readings.lua returns: the new entry's id (null when nothing was new), then an outcome per reading. */
export type AppendReply = [id: string | null, ...outcomes: number[]];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** lua/append-readings.lua */
    appendReadings(...keysThenArgs: (string | number)[]): Result<AppendReply, Context>;
  }
}

/** Registers ingest's scripts on a connection (EVALSHA, falling back to EVAL after a restart). */
export function defineScripts<T extends RedisClient>(redis: T): T {
  redis.defineCommand('appendReadings', { numberOfKeys: 2, lua: lua('append-readings') });
  return redis;
}
