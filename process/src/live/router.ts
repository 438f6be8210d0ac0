import { initTRPC, TRPCError, tracked } from '@trpc/server';
import {
  type FleetLive,
  type PipelineLive,
  type SiteEvent,
  type TailEvent,
  WatchFleetInputSchema,
  WatchPipelineInputSchema,
  WatchSiteInputSchema,
  WatchTailInputSchema,
} from '@energy-pipeline/contract';

/**
 * What a subscription knows of its caller: the sites its API key may read (null: every site, or
 * auth off). The key itself was checked, and its `read` scope, before tRPC saw the request (the
 * processor's auth hook, driven by the route's auth config: see plugin.ts).
 */
export interface LiveContext {
  sites: ReadonlySet<string> | null;
}

/** An event with its tracked id: a position in the stream (see LivePositionSchema). */
export interface TrackedEvent<T> {
  id: string;
  data: T;
}

/**
 * Where the router's events come from (the LiveHub). Declared with the contract's types only,
 * so that the router's type, which the SDK imports, names nothing of the server.
 */
export interface LiveSource {
  site(siteId: string, lastEventId: string | null | undefined, signal: AbortSignal): AsyncIterable<TrackedEvent<SiteEvent>>;
  tail(
    filter: { site_id?: string | undefined; device_id?: string | undefined; sites: ReadonlySet<string> | null },
    lastEventId: string | null | undefined,
    signal: AbortSignal,
  ): AsyncIterable<TrackedEvent<TailEvent>>;
  pipeline(signal: AbortSignal): AsyncIterable<PipelineLive>;
  fleet(sites: ReadonlySet<string> | null, signal: AbortSignal): AsyncIterable<FleetLive>;
  /** Turns a failure of the source into what the client is told (e.g. unavailable); rethrows the rest. */
  explain(err: unknown): never;
}

/** Pings keep proxies from closing a quiet stream; the client reconnects when even they stop. */
export const SSE_PING_MS = 10_000;
export const SSE_CLIENT_RECONNECT_MS = 25_000;

const t = initTRPC.context<LiveContext>().create({
  sse: {
    ping: { enabled: true, intervalMs: SSE_PING_MS },
    client: { reconnectAfterInactivityMs: SSE_CLIENT_RECONNECT_MS },
  },
  errorFormatter({ shape, error }) {
    // Our reason (slow_consumer, shutting_down, unavailable, forbidden…) beside tRPC's code.
    const reason = (error.cause as { reason?: unknown } | undefined)?.reason;
    return typeof reason === 'string' ? { ...shape, data: { ...shape.data, reason } } : shape;
  },
});

const forbidden = (site: string) =>
  new TRPCError({ code: 'FORBIDDEN', message: `This API key may not read site '${site}'`, cause: Object.assign(new Error('forbidden'), { reason: 'forbidden' }) });

/** Runs a source's events through tRPC, turning its failures into errors the client understands. */
async function* relay<T>(source: LiveSource, events: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* events;
  } catch (err) {
    source.explain(err);
  }
}

/**
 * The processor's live side, mounted at /trpc: subscriptions over Server-Sent Events. `site` and
 * `tail` events carry tracked ids (stream positions): a client that reconnects sends the last one
 * and misses nothing that the stream still holds. `pipeline` and `fleet` send the whole picture
 * each time, so there is nothing to resume.
 */
export function createLiveRouter(source: LiveSource) {
  return t.router({
    site: t.procedure.input(WatchSiteInputSchema).subscription(async function* ({ input, ctx, signal }) {
      if (ctx.sites && !ctx.sites.has(input.site_id)) throw forbidden(input.site_id);
      for await (const e of relay(source, source.site(input.site_id, input.lastEventId, signal ?? new AbortController().signal))) {
        yield tracked(e.id, e.data);
      }
    }),
    tail: t.procedure.input(WatchTailInputSchema).subscription(async function* ({ input, ctx, signal }) {
      if (ctx.sites && input.site_id !== undefined && !ctx.sites.has(input.site_id)) throw forbidden(input.site_id);
      const filter = { site_id: input.site_id, device_id: input.device_id, sites: ctx.sites };
      for await (const e of relay(source, source.tail(filter, input.lastEventId, signal ?? new AbortController().signal))) {
        yield tracked(e.id, e.data);
      }
    }),
    pipeline: t.procedure.input(WatchPipelineInputSchema).subscription(async function* ({ signal }) {
      yield* relay(source, source.pipeline(signal ?? new AbortController().signal));
    }),
    fleet: t.procedure.input(WatchFleetInputSchema).subscription(async function* ({ ctx, signal }) {
      yield* relay(source, source.fleet(ctx.sites, signal ?? new AbortController().signal));
    }),
  });
}

/** The live router's type: all the SDK, the CLI and the dashboard import of the server. */
export type LiveRouter = ReturnType<typeof createLiveRouter>;
