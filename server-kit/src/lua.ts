import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis.js';

// Helpers every service's scripts may include; kept beside src/ so that src/ (tsx) and dist/
// (compiled) find them at the same place.
const includesDir = new URL('../lua/includes/', import.meta.url);

/** A script of a service: its file in the service's lua/ folder, without `.lua`, and how many keys it takes. */
export interface LuaScript {
  file: string;
  keys: number;
}

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
 * Registers `scripts` (from the service's `dir`) as commands on a connection: ioredis sends
 * EVALSHA and falls back to EVAL when Redis does not know the script (after a restart).
 */
export function defineLuaCommands<T extends RedisClient>(redis: T, dir: URL, scripts: Record<string, LuaScript>): T {
  for (const [name, { file, keys }] of Object.entries(scripts)) {
    redis.defineCommand(name, { numberOfKeys: keys, lua: luaSource(dir, file) });
  }
  return redis;
}

/** Calls a script registered by {@link defineLuaPort}: its keys, then its arguments. */
export type LuaCall = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/**
 * Registers one script on one connection and returns the function that calls it: the base of a
 * typed port (a module beside the script that owns its KEYS/ARGV encoding and reply decoding),
 * so that no call site builds positional arguments and no script command is declared on every
 * ioredis client. ioredis sends EVALSHA and falls back to EVAL after a restart, as for
 * {@link defineLuaCommands}.
 */
export function defineLuaPort(redis: RedisClient, dir: URL, file: string, keys: number): LuaCall {
  const name = `ep_${file.replace(/\W/g, '_')}`;
  if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: keys, lua: luaSource(dir, file) });
  const command = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!;
  return (k, args) => {
    if (k.length !== keys) throw new TypeError(`${file}.lua takes ${keys} keys, got ${k.length}`);
    return command.call(redis, ...k, ...args);
  };
}
