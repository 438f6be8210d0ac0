import calculateSlot from 'cluster-key-slot';

/**
 * The stream split into shards, so that a Redis Cluster spreads the pipeline over its nodes.
 *
 * A shard's stream, consumer group, aggregates, dedupe state and dead letters share the hash tag
 * of its stream name (redis-keys.ts), so every atomic step stays inside one slot. With one shard
 * the stream keeps the configured name (`energy_readings`, as the seed has it). With several, the
 * shard `i` of `n` is named `<stream>{<stream>.<i>.<k>}`, its tag picked (smallest `k`) so that its
 * slot falls in the `i`-th of `n` equal slot ranges: `redis-cli --cluster create` and managed
 * clusters give masters equal contiguous ranges, so the shards spread evenly over the masters.
 */
export const CLUSTER_SLOTS = 16_384;

/** The slot Redis Cluster puts `key` in (CRC16 of its hash tag, as CLUSTER KEYSLOT computes it). */
export const keySlot = (key: string): number => calculateSlot(key);

const namesCache = new Map<string, string[]>();

/** The stream name of every shard, in shard order. */
export function shardStreams(stream: string, shards: number): string[] {
  if (!Number.isInteger(shards) || shards < 1 || shards > CLUSTER_SLOTS) throw new RangeError(`shards must be 1..${CLUSTER_SLOTS}`);
  if (shards === 1) return [stream];
  if (stream.includes('{') || stream.includes('}')) {
    throw new RangeError('a sharded stream name may not carry a hash tag of its own ({…}): each shard gets one');
  }
  const key = `${stream} ${shards}`;
  let names = namesCache.get(key);
  if (!names) {
    names = Array.from({ length: shards }, (_, i) => {
      const low = Math.floor((i * CLUSTER_SLOTS) / shards);
      const high = Math.floor(((i + 1) * CLUSTER_SLOTS) / shards);
      for (let k = 0; ; k++) {
        const tag = `${stream}.${i}.${k}`;
        const slot = keySlot(tag);
        if (slot >= low && slot < high) return `${stream}{${tag}}`;
      }
    });
    namesCache.set(key, names);
  }
  return names;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = (1n << 64n) - 1n;
const encoder = new TextEncoder();

/** FNV-1a, 64 bits, over the UTF-8 bytes of `text`: a stable hash every language can reproduce. */
function fnv1a64(text: string): bigint {
  let h = FNV_OFFSET;
  for (const byte of encoder.encode(text)) h = ((h ^ BigInt(byte)) * FNV_PRIME) & MASK;
  return h;
}

/**
 * Jump consistent hash (Lamping and Veach, 2014): when the shard count grows from n to n + 1, only
 * 1/(n + 1) of the keys move, all of them to the new shard, which keeps resharding cheap.
 */
function jumpHash(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = key;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & MASK;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(k >> 33n) + 1)));
  }
  return b;
}

const shardCache = new Map<string, number>();
const SHARD_CACHE_LIMIT = 100_000;

/** The shard of a site: always the same for one (normalized) site_id and shard count. */
export function shardOf(siteId: string, shards: number): number {
  if (shards === 1) return 0;
  const key = `${shards} ${siteId}`;
  let shard = shardCache.get(key);
  if (shard === undefined) {
    if (shardCache.size >= SHARD_CACHE_LIMIT) shardCache.clear();
    shard = jumpHash(fnv1a64(siteId), shards);
    shardCache.set(key, shard);
  }
  return shard;
}
