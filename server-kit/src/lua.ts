import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis.js';

// Helpers every service's scripts may include; kept beside src/ so that src/ (tsx) and dist/
// (compiled) find them at the same place.
const includesDir = new URL('../lua/includes/', import.meta.url);

/**
 * A script's source with its `-- @include <name>` lines replaced by the kit's
 * lua/includes/<name>.lua: helpers are written once, and each script still loads as one body
 * (EVALSHA cannot call another script).
 */
export function luaSource(dir: URL, file: string): string {
  const read = (url: URL) => readFileSync(url, 'utf8');
  return read(new URL(`${file}.lua`, dir)).replace(/^-- @include ([\w-]+)$/gm, (_, include: string) =>
    read(new URL(`${include}.lua`, includesDir)).trimEnd(),
  );
}

/**
 * Calls a script registered by {@link defineLuaPort}: its keys, then its arguments; `queue` adds
 * the same call to a pipeline of that connection instead.
 */
export interface LuaCall {
  (keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  queue(pipeline: ReturnType<RedisClient['pipeline']>, keys: readonly string[], args: readonly (string | number)[]): void;
}

/**
 * Registers one script on one connection and returns the function that calls it: the base of a
 * typed port (a module beside the script's role that owns its KEYS/ARGV encoding and reply
 * decoding), so that no call site builds positional arguments and no script command is declared
 * on every ioredis client. ioredis sends EVALSHA and falls back to EVAL after a restart (a
 * command defined with its source). Registering the same script twice on a connection is harmless.
 */
export function defineLuaPort(redis: RedisClient, dir: URL, file: string, keys: number): LuaCall {
  const name = `ep_${file.replace(/\W/g, '_')}`;
  if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: keys, lua: luaSource(dir, file) });
  type Command = (...a: (string | number)[]) => unknown;
  const check = (k: readonly string[]) => {
    if (k.length !== keys) throw new TypeError(`${file}.lua takes ${keys} keys, got ${k.length}`);
  };
  const call = ((k, args) => {
    check(k);
    return (redis as unknown as Record<string, Command>)[name]!.call(redis, ...k, ...args) as Promise<unknown>;
  }) as LuaCall;
  call.queue = (pipeline, k, args) => {
    check(k);
    (pipeline as unknown as Record<string, Command>)[name]!.call(pipeline, ...k, ...args);
  };
  return call;
}
