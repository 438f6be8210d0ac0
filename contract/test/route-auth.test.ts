/**
 * `npm run typecheck` compiles this file, so the `@ts-expect-error` below fails the build if a
 * route without auth metadata ever compiles; vitest checks the contracts' metadata at run time.
 */
import { describe, expect, it } from 'vitest';
import { initContract, isAppRoute, type AppRouter } from '@ts-rest/core';
import { z } from 'zod';
import { ingestContract, processContract, ROUTE_AUTH, routeMetadata, routesWithAuth } from '../src/index.js';

const routes = (contract: AppRouter) => Object.values(contract).filter(isAppRoute);
const OPEN_PATHS = ['/health', '/metrics'];

describe.each([
  ['ingest', ingestContract],
  ['process', processContract],
])('the %s contract', (_, contract) => {
  it('says what every route needs in its metadata', () => {
    for (const route of routes(contract)) {
      expect(ROUTE_AUTH, `${route.method} ${route.path}`).toContain((route.metadata as { auth?: unknown } | undefined)?.auth);
    }
  });

  it('keeps only health and metrics open, and lists 401 and 403 on every guarded route', () => {
    for (const route of routes(contract)) {
      const { auth } = routeMetadata(route);
      expect(auth === 'public', `${route.method} ${route.path}`).toBe(OPEN_PATHS.includes(route.path));
      if (auth !== 'public') expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(['401', '403']));
      else expect(Object.keys(route.responses)).not.toContain('401');
    }
  });
});

describe('route auth metadata', () => {
  it('puts queries under read, dead-letter changes under admin and site routes under their site', () => {
    const byName = Object.fromEntries(Object.entries(processContract).map(([name, route]) => [name, routeMetadata(route)]));
    expect(byName).toEqual({
      sites: { auth: 'read', sites: 'handler' },
      site: { auth: 'read', sites: 'param' },
      putSite: { auth: 'admin' },
      siteDevices: { auth: 'read', sites: 'param' },
      device: { auth: 'read', sites: 'param' },
      siteSeries: { auth: 'read', sites: 'param' },
      deviceSeries: { auth: 'read', sites: 'param' },
      listDeadLetters: { auth: 'read' },
      replayDeadLetter: { auth: 'admin' },
      replayDeadLetters: { auth: 'admin' },
      deleteDeadLetter: { auth: 'admin' },
      deleteDeadLetters: { auth: 'admin' },
      health: { auth: 'public' },
      metrics: { auth: 'public' },
    });
    expect(routeMetadata(ingestContract.postReading)).toEqual({ auth: 'write', sites: 'handler' });
  });

  it('fails closed: a route without usable metadata needs admin', () => {
    expect(routeMetadata({})).toEqual({ auth: 'admin' });
    expect(routeMetadata({ metadata: { auth: 'Public' } })).toEqual({ auth: 'admin' });
  });

  it('does not compile a route without auth metadata', () => {
    const c = initContract();
    const ok = routesWithAuth({ a: { method: 'GET', path: '/a', metadata: { auth: 'read' }, responses: { 200: z.object({}) } } });
    expect(c.router(ok).a.metadata.auth).toBe('read');
    const compileOnly = () => {
      // @ts-expect-error every route must say what it needs
      routesWithAuth({ b: { method: 'GET', path: '/b', responses: { 200: z.object({}) } } });
      // @ts-expect-error and only with a known value
      routesWithAuth({ c: { method: 'GET', path: '/c', metadata: { auth: 'everyone' }, responses: { 200: z.object({}) } } });
    };
    expect(compileOnly).toBeTypeOf('function');
  });
});
