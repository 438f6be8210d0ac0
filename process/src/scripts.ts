import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import type { RedisClient } from '@energy-pipeline/server-kit';

// Lua lives in process/lua so that src/ (tsx) and dist/ (compiled) find it at the same place.
const luaDir = new URL('../lua/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, luaDir), 'utf8');

/**
 * A script's source with its `-- @include <name>` lines replaced by lua/includes/<name>.lua:
 * helpers shared between scripts are written once, and each script still loads as one body
 * (EVALSHA cannot call another script).
 */
export function luaSource(name: string): string {
  return read(`${name}.lua`).replace(/^-- @include ([\w-]+)$/gm, (_, include: string) => read(`includes/${include}.lua`).trimEnd());
}

type Args = (string | number)[];

/** What lua/apply-entries.lua returns: an outcome per entry, readings applied, readings dead-lettered. */
export type ApplyReply = [outcomes: number[], applied: number, deadLettered: number];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** lua/apply-entries.lua */
    applyEntries(...keysThenArgs: Args): Result<ApplyReply, Context>;
    /** lua/leave-group.lua: 1 left, 0 still holds entries. */
    leaveGroup(...keysThenArgs: Args): Result<number, Context>;
    /** lua/trim-stream.lua: entries removed. */
    trimStream(...keysThenArgs: Args): Result<number, Context>;
    /** lua/replay-dead-letter.lua: the new stream id, or null when there is no such dead letter. */
    replayDeadLetter(...keysThenArgs: Args): Result<string | null, Context>;
    /** lua/set-to-sorted-set.lua: members moved, or -1 when the key was not a set. */
    setToSortedSet(...keysThenArgs: Args): Result<number, Context>;
  }
}

const scripts = {
  applyEntries: { file: 'apply-entries', keys: 4 },
  leaveGroup: { file: 'leave-group', keys: 1 },
  trimStream: { file: 'trim-stream', keys: 1 },
  replayDeadLetter: { file: 'replay-dead-letter', keys: 2 },
  setToSortedSet: { file: 'set-to-sorted-set', keys: 1 },
} as const;

/** Registers the processor's scripts on a connection (EVALSHA, falling back to EVAL after a restart). */
export function defineScripts<T extends RedisClient>(redis: T): T {
  for (const [name, { file, keys }] of Object.entries(scripts)) {
    redis.defineCommand(name, { numberOfKeys: keys, lua: luaSource(file) });
  }
  return redis;
}
