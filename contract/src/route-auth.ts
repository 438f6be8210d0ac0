import type { AppRoute } from '@ts-rest/core';

/**
 * What an API key may be allowed to do: `write` readings (ingest), `read` figures (the processor's
 * queries), `admin` dead letters (replay and delete; implies read).
 */
export const API_KEY_SCOPES = ['write', 'read', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** What a route needs: nothing (`public`: probes, scrapes, docs) or a key with that scope. */
export const ROUTE_AUTH = ['public', ...API_KEY_SCOPES] as const;
export type RouteAuth = (typeof ROUTE_AUTH)[number];

/**
 * How a route treats a key limited to some sites:
 * - `param`: the route is about the site in its `:site_id` path parameter; the services' auth hook
 *   answers 403 for a site outside the key's, before the handler runs;
 * - `handler`: the handler applies the key's sites itself (a batch rejects such readings one by
 *   one; the site list shows only the key's sites).
 * Without it the route is not about one site (the dead letters hold every site's readings), and a
 * key limited to sites gets 403 there.
 */
export type SiteRule = 'param' | 'handler';

/** The ts-rest route `metadata` every route of the contracts carries. */
export interface RouteMetadata {
  auth: RouteAuth;
  sites?: SiteRule;
}

/**
 * Wraps a contract's routes so that each must declare what it needs: a route without
 * `metadata: { auth }` does not compile. The services' auth hook and the OpenAPI security
 * requirements are derived from this metadata.
 */
export function routesWithAuth<T extends Record<string, AppRoute & { metadata: RouteMetadata }>>(routes: T): T {
  return routes;
}

/**
 * A route's auth metadata, read at run time. A route that somehow lacks it (a contract built
 * without routesWithAuth) is treated as needing `admin`: fail closed.
 */
export function routeMetadata(route: { metadata?: unknown }): RouteMetadata {
  const m = route.metadata as Partial<RouteMetadata> | undefined;
  if (!m || !(ROUTE_AUTH as readonly unknown[]).includes(m.auth)) return { auth: 'admin' };
  return { auth: m.auth as RouteAuth, ...(m.sites === 'param' || m.sites === 'handler' ? { sites: m.sites } : {}) };
}
