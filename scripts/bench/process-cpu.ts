import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second for /proc times: 100 on every Linux the project runs on (`getconf CLK_TCK`). */
const TICKS_PER_S = 100;

/**
 * CPU time (user + system, all threads) a process has used so far, in µs, from /proc; null where
 * there is no /proc. On a machine shared with other work, CPU time per request moves far less
 * than requests per second, which depend on how much of a core the process was given.
 *
 * In nanoseconds from each thread's schedstat where the kernel has it: /proc/<pid>/stat counts
 * in clock ticks (10 ms), and a small run (the bench's tiny size drains 10,000 readings in tens of
 * milliseconds on a fast machine) could read 0 or one tick. A Node process's threads (the main
 * one, libuv's pool, V8's helpers) live as long as it does, so the sum over them only grows.
 */
export function processCpuUs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  return schedstatUs(pid) ?? statUs(pid);
}

function schedstatUs(pid: number): number | null {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      // `<on-CPU ns> <waiting ns> <timeslices>`; a thread gone since the listing counts nothing.
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch {}
    }
    return Number.isFinite(ns) ? ns / 1000 : null;
  } catch {
    return null;
  }
}

function statUs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_S) * 1e6;
  } catch {
    return null;
  }
}
