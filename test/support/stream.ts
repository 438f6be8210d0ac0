import type { Cluster, Redis } from 'ioredis';
import { BATCH_FIELD, fieldsObject } from '@energy-pipeline/contract';

/** A reading as it sits in the stream, with the entry that holds it. */
export interface StoredReading {
  entryId: string;
  /** Its place in a batch entry; 0 in a single-reading entry. */
  ord: number;
  /** The reading's fields: strings in a single-reading entry, JSON values in a batch. */
  fields: Record<string, unknown>;
}

/** Every reading in `stream`, single-reading and batch entries alike, in stream order. */
export async function storedReadings(redis: Redis | Cluster, stream: string): Promise<StoredReading[]> {
  const out: StoredReading[] = [];
  for (const [entryId, flat] of await redis.xrange(stream, '-', '+')) {
    const fields = fieldsObject(flat);
    if (fields[BATCH_FIELD] === undefined) out.push({ entryId, ord: 0, fields });
    else {
      const readings = JSON.parse(fields[BATCH_FIELD]) as Record<string, unknown>[];
      readings.forEach((r, ord) => {
        out.push({ entryId, ord, fields: r });
      });
    }
  }
  return out;
}
