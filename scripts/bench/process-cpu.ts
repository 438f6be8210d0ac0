import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second for /proc times: 100 on every Linux the project runs on (`getconf CLK_TCK`). */
const TICKS_PER_S = 100;

/**
 * CPU time (user + system, all threads) a process has used so far, in µs, from /proc; null where
 * there is no /proc. On a machine shared with other work, CPU time per request moves far less
 * than requests per second, which depend on how much of a core the process was given.
 */
export function processCpuUs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_S) * 1e6;
  } catch {
    return null;
  }
}
