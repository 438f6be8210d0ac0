import type { RedisClient } from '@energy-pipeline/server-kit';

/**
 * Creates the consumer group if it is missing. It starts at the beginning of the stream
 * (id 0), not at `$`: readings accepted before the first processor ever started must be
 * processed too. MKSTREAM lets the processor start before any reading arrives.
 */
export async function ensureGroup(redis: RedisClient, stream: string, group: string): Promise<boolean> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    return true;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('BUSYGROUP')) return false;
    throw err;
  }
}

export const isNoGroupError = (err: unknown) => err instanceof Error && err.message.startsWith('NOGROUP');
