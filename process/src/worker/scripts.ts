import type { Result } from 'ioredis';
import { defineLuaCommands, type RedisClient } from '@energy-pipeline/server-kit';

// Lua lives in process/lua so that src/ (tsx) and dist/ (compiled) find it at the same place.
const LUA_DIR = new URL('../../lua/', import.meta.url);

type Args = (string | number)[];

/** What lua/apply-entries.lua returns: an outcome per entry, readings applied, readings dead-lettered. */
type ApplyReply = [outcomes: number[], applied: number, deadLettered: number];

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

/** Registers the processor's scripts on a connection. */
export function defineScripts<T extends RedisClient>(redis: T): T {
  return defineLuaCommands(redis, LUA_DIR, scripts);
}
