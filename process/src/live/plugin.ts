import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { TRPCError } from '@trpc/server';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import type { RouteMetadata } from '@energy-pipeline/contract';
import { closeRedis, createRedis, isRedisUnavailable, redisKeys } from '@energy-pipeline/contract/server';
import type { ProcessConfig } from '../config.js';
import type { SiteZones } from '../site-zones.js';
import { LiveHub, LiveUnavailableError } from './live-hub.js';
import { createLiveRouter, type LiveRouter, type LiveSource } from './router.js';
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

/** What the tRPC routes need: a key with the read scope; site-limited keys are checked per subscription. */
const LIVE_AUTH: RouteMetadata = { auth: 'read', sites: 'handler' };

/**
 * Mounts the live side on the processor: the tRPC router at /trpc (Fastify adapter; subscriptions
 * over SSE) and its hub, which follows the stream on a connection of its own. Subscriptions end
 * with `shutting_down` before the server closes, so that clients reconnect to another replica
 * instead of holding the shutdown up.
 */
export function installLive(app: FastifyInstance, config: ProcessConfig, redis: Redis, zones: SiteZones) {
  const { stream, group, name } = config.consumer;
  const blocking = createRedis({ url: config.redis.url, role: 'blocking', name: `ep-process-${name}-live` });
  const hub = new LiveHub({
    redis,
    blocking,
    // One stream today; with STREAM_SHARDS (issue 11) one entry per shard stream, and shardOf its mapping.
    shards: [{ stream, keys: redisKeys({ stream, group }) }],
    shardOf: () => 0,
    group,
    zones,
    log: app.log.child({ component: 'live' }),
    config: config.live,
  });
  app.decorate('live', hub);
  app.addHook('preClose', async () => {
    await hub.close();
  });
  app.addHook('onClose', async () => {
    await closeRedis(blocking);
  });

  const router = createLiveRouter(liveSource(hub));
  app.register(async (scope) => {
    // Each tRPC route carries the auth metadata the shared auth hook reads (contract/src/server/auth.ts).
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
