import { readGroups, type RedisClient } from '@energy-pipeline/server-kit';

export interface DrainTiming {
  /** Entries acknowledged between the first and last observation. */
  acked: number;
  seconds: number;
  /** When the first acknowledgement was seen, on the monotonic clock in µs (for profile windows). */
  startedAtUs: number;
}

/** Entries `group` has acknowledged so far (read minus pending) over `streams`, from XINFO GROUPS. */
async function ackedBy(redis: RedisClient, streams: readonly string[], group: string): Promise<number> {
  let acked = 0;
  for (const stream of streams) {
    const g = (await readGroups(redis, stream)).find((x) => x.name === group);
    acked += g ? (g.entriesRead ?? 0) - g.pending : 0;
  }
  return acked;
}

/**
 * Times a drain by watching the group from outside, so that the processor and the plain loop
 * are timed alike: the clock starts at the first observed acknowledgement (leaving out process
 * start-up) and stops when all `total` entries are acknowledged (summed over the shard streams
 * when `stream` is a list).
 */
export async function watchDrain(
  redis: RedisClient,
  stream: string | readonly string[],
  group: string,
  total: number,
  onFirst: () => void = () => {},
  timeoutMs = 600_000,
): Promise<DrainTiming> {
  const deadline = Date.now() + timeoutMs;
  let first: { acked: number; at: number; us: number } | null = null;
  for (;;) {
    const acked = await ackedBy(redis, typeof stream === 'string' ? [stream] : stream, group);
    const at = performance.now();
    if (first === null && acked > 0) {
      first = { acked, at, us: Number(process.hrtime.bigint() / 1000n) };
      onFirst();
    }
    if (acked >= total && first) {
      // Everything acknowledged by the first observation: nothing was timed, and a rate would be 0/0.
      if (acked === first.acked) throw new Error(`${group} acknowledged all ${total} entries at once: too few to time; drain more`);
      return { acked: acked - first.acked, seconds: (at - first.at) / 1000, startedAtUs: first.us };
    }
    if (Date.now() > deadline) throw new Error(`${group} acknowledged ${acked} of ${total} entries within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
