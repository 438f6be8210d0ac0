import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';

// Lua lives in process/lua so that src/ (tsx) and dist/ (compiled) find it at the same place.
const luaDir = new URL('../lua/', import.meta.url);
const lua = (name: string) => readFileSync(new URL(`${name}.lua`, luaDir), 'utf8');

declare module 'ioredis' {
  interface RedisCommander<Context> {
    applyReading(...keysThenArgs: (string | number)[]): Result<number, Context>;
    ackInvalid(...keysThenArgs: (string | number)[]): Result<number, Context>;
  }
}

/** Registers the processor's scripts on a connection (EVALSHA, falling back to EVAL after a restart). */
export function defineScripts(redis: Redis): Redis {
  redis.defineCommand('applyReading', { numberOfKeys: 6, lua: lua('apply-reading') });
  redis.defineCommand('ackInvalid', { numberOfKeys: 2, lua: lua('ack-invalid') });
  return redis;
}
