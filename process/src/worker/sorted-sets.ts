import type { FastifyBaseLogger } from 'fastify';
import type { RedisKeys, RedisClient } from '@energy-pipeline/server-kit';
import { SetToSortedSet } from './set-to-sorted-set.js';

/** Field of the group's stats hash saying that its id lists are sorted sets. */
export const ID_LISTS_FIELD = 'id_lists';
const PAGE = 500;

/**
 * Moves a group's id lists (`sites` and each site's `site-devices`) from sets, as processors
 * before paginated queries wrote them, to sorted sets with every score 0, which the API pages in
 * id order. Runs when the consumer first reaches Redis; a field of the stats hash records that it
 * is done, so later starts cost one HGET. Without a `sites` key there is nothing to move and
 * nothing is written (a new deployment writes sorted sets from its first reading; its first
 * restart with data makes one pass and sets the marker). Uses set-to-sorted-set.lua through its
 * typed port.
 *
 * `sites` goes first: an older processor still running during a rolling update checks every key's
 * type before it writes (apply-entries.lua), so from then on it applies nothing (its entries stay
 * pending and are taken over by a new processor) and cannot add a site behind the migration's
 * back. Then each site's device list; until its list is converted, a reading for that site fails
 * with WRONGTYPE, stays pending and is retried. Safe to run concurrently and to interrupt.
 */
export async function migrateIdListsToSortedSets(redis: RedisClient, keys: RedisKeys, log: FastifyBaseLogger): Promise<void> {
  if ((await redis.hget(keys.stats, ID_LISTS_FIELD)) === 'sorted') return;
  if ((await redis.exists(keys.sites)) === 0) return;
  const script = new SetToSortedSet(redis);
  const sites = await script.run(keys.sites);
  let deviceLists = 0;
  let after = '-';
  for (;;) {
    const page = await redis.zrange(keys.sites, after, '+', 'BYLEX', 'LIMIT', 0, PAGE);
    if (page.length === 0) break;
    const pipeline = redis.pipeline();
    for (const site of page) script.queue(pipeline, keys.siteDevices(site));
    for (const [err, moved] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      if (Number(moved) >= 0) deviceLists += 1;
    }
    after = `(${page[page.length - 1]}`;
  }
  await redis.hset(keys.stats, ID_LISTS_FIELD, 'sorted');
  if (sites >= 0 || deviceLists > 0) {
    log.info({ sites: Math.max(sites, 0), deviceLists }, 'moved the site and device lists to sorted sets');
  }
}
