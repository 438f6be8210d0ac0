import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { TRPCError } from '@trpc/server';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import type { RouteMetadata } from '@energy-pipeline/contract';
import { closeRedis, createRedis, isRedisUnavailable } from '@energy-pipeline/server-kit';
import type { ProcessConfig } from '../config/config.js';
import type { Shards } from '../queries/shards.js';
import { LiveHub, LiveUnavailableError } from './live-hub.js';
import { createLiveRouter, type LiveRouter, type LiveSource } from './router.js';
import type { TailReader } from './stream-tail.js';
import { LiveEndError } from './subscriber-queue.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The live side's hub (subscriber counts, for tests and logs). */
    live: LiveHub;
  }
}

const unavailable = (message: string, reason: string, cause?: unknown) =>
  new TRPCError({ code: 'SERVICE_UNAVAILABLE', message, cause: Object.assign(new Error(message, { cause }), { reason }) });

/**
 * A hub's subscriptions as the router's LiveSource. Failures a client should retry (Redis away,
 * a dropped slow client, a replica shutting down) become SERVICE_UNAVAILABLE, which tRPC's client
 * answers by reconnecting with its last event id.
 */
function liveSource(hub: LiveHub): LiveSource {
  return {
    site: (siteId, lastEventId, signal) => hub.site(siteId, lastEventId, signal),
    tail: (filter, lastEventId, signal) => hub.tailReadings(filter, lastEventId, signal),
    pipeline: (signal) => hub.pipelineFigures(signal),
    fleet: (sites, signal) => hub.fleetFigures(sites, signal),
    explain(err) {
      if (err instanceof LiveEndError) throw unavailable(err.message, err.reason);
      if (err instanceof LiveUnavailableError || isRedisUnavailable(err)) throw unavailable('Redis is unreachable; retry later', 'unavailable', err);
      throw err;
    },
  };
}

/**
 * The live tail's blocking connections: one for every shard on a single Redis (one XREAD covers
 * them all), one per shard on a Redis Cluster (an XREAD stays within one slot there).
 */
function tailReaders(config: ProcessConfig, shards: Shards): TailReader[] {
  const { url, clusterNodes } = config.redis;
  const connect = (suffix: string) => createRedis({ url, clusterNodes, role: 'blocking', name: `ep-process-${config.consumer.name}-live${suffix}` });
  const all = shards.all.map((s) => s.shard);
  if (!clusterNodes) return [{ redis: connect(''), shards: all }];
  return all.map((shard) => ({ redis: connect(`-${shard}`), shards: [shard] }));
}

/** What the tRPC routes need: a key with the read scope; site-limited keys are checked per subscription. */
const LIVE_AUTH: RouteMetadata = { auth: 'read', sites: 'handler' };

/**
 * Mounts the live side on the processor: the tRPC router at /trpc (Fastify adapter; subscriptions
 * over SSE) and its hub, which follows the stream on a connection of its own. Subscriptions end
 * with `shutting_down` before the server closes, so that clients reconnect to another replica
 * instead of holding the shutdown up.
 */
export const livePlugin = fp<{ config: ProcessConfig }>(async (app, { config }) => installLive(app, config), {
  name: 'ep-live',
  fastify: '5.x',
  dependencies: ['ep-auth', 'ep-process-store'],
});

function installLive(app: FastifyInstance, config: ProcessConfig) {
  const { redis, shards } = app.processStore;
  const readers = tailReaders(config, shards);
  const hub = new LiveHub({
    redis,
    readers,
    shards,
    group: config.consumer.group,
    log: app.log.child({ component: 'live' }),
    config: config.live,
  });
  app.decorate('live', hub);
  app.addHook('preClose', async () => {
    await hub.close();
  });
  app.addHook('onClose', async () => {
    await Promise.all(readers.map(({ redis }) => closeRedis(redis)));
  });

  const router = createLiveRouter(liveSource(hub));
  app.register(async (scope) => {
    // Each tRPC route carries the auth metadata the shared auth hook reads (server-kit/src/auth.ts).
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), routeAuth: LIVE_AUTH } as typeof route.config;
    });
    await scope.register(fastifyTRPCPlugin, {
      prefix: '/trpc',
      trpcOptions: {
        router,
        createContext: ({ req }) => ({ sites: req.apiKey?.sites ?? null }),
        onError: ({ error, path }) => {
          if (error.code === 'INTERNAL_SERVER_ERROR') app.log.error({ err: error.cause ?? error, path }, 'live subscription failed');
        },
      },
    } satisfies FastifyTRPCPluginOptions<LiveRouter>);
  });
}
