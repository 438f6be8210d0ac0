import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';

// Lua lives in process/lua so that src/ (tsx) and dist/ (compiled) find it at the same place.
const luaDir = new URL('../lua/', import.meta.url);
const lua = (name: string) => readFileSync(new URL(`${name}.lua`, luaDir), 'utf8');

type Args = (string | number)[];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** lua/apply-reading.lua: 1 applied, 0 already acknowledged. */
    applyReading(...keysThenArgs: Args): Result<number, Context>;
    /** lua/dead-letter.lua: 1 dead-lettered, 0 already acknowledged. */
    deadLetter(...keysThenArgs: Args): Result<number, Context>;
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
  applyReading: { file: 'apply-reading', keys: 10 },
  deadLetter: { file: 'dead-letter', keys: 3 },
  leaveGroup: { file: 'leave-group', keys: 1 },
  trimStream: { file: 'trim-stream', keys: 1 },
  replayDeadLetter: { file: 'replay-dead-letter', keys: 2 },
  setToSortedSet: { file: 'set-to-sorted-set', keys: 1 },
} as const;

/** Registers the processor's scripts on a connection (EVALSHA, falling back to EVAL after a restart). */
export function defineScripts(redis: Redis): Redis {
  for (const [name, { file, keys }] of Object.entries(scripts)) {
    redis.defineCommand(name, { numberOfKeys: keys, lua: lua(file) });
  }
  return redis;
}
