/**
 * `npm run reshard -- --from 1 --to 6`: changes STREAM_SHARDS of a drained pipeline (reshard.ts).
 * Reads the Redis settings from the environment, as the services do (REDIS_URL or REDIS_HOST/PORT,
 * REDIS_CLUSTER_NODES, REDIS_STREAM).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, closeRedis, createRedis, parseEnv, redisConfigFrom, redisEnvShape, waitReady } from '@energy-pipeline/server-kit';
import { ReshardError, reshard } from './reshard.js';

const usage = 'usage: reshard --from <shards now> --to <shards wanted>';
const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const count = z.coerce.number().int().min(1).max(1024);
const from = count.safeParse(values.from);
const to = count.safeParse(values.to);
if (!from.success || !to.success) {
  console.error(usage);
  process.exit(2);
}

let config: ReturnType<typeof redisConfigFrom>;
try {
  config = redisConfigFrom(parseEnv(redisEnvShape, process.env));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}
const redis = createRedis({ url: config.url, clusterNodes: config.clusterNodes, role: 'blocking', name: 'ep-reshard' });
try {
  await waitReady(redis, 10_000);
  await reshard(redis, { stream: config.stream, from: from.data, to: to.data, log: (line) => console.log(`[reshard] ${line}`) });
  console.log(`[reshard] now deploy both services with STREAM_SHARDS=${to.data}`);
} catch (err) {
  if (!(err instanceof ReshardError)) throw err;
  console.error(`[reshard] stopped: ${err.message}. Fix it and run the same command again.`);
  process.exitCode = 1;
} finally {
  await closeRedis(redis);
}
