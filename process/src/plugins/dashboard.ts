import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Where the dashboard's build lives: process/dashboard/dist, found from src/ (tsx) and dist/
 * (compiled) alike, as the Lua scripts are (scripts.ts).
 */
const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist/', import.meta.url));

/**
 * The dashboard's static files, served at `/`. Vite names every asset by its content hash, so
 * those are cached for a year; index.html is revalidated on each load, so a new build shows at
 * once. The Content-Security-Policy allows nothing from another origin: the page loads its own
 * scripts and talks to this processor only.
 */
export const dashboardPlugin = fp<{ root?: string }>(async (app, { root = DASHBOARD_DIR }) => installDashboard(app, root), {
  name: 'ep-dashboard',
  fastify: '5.x',
});

function installDashboard(app: FastifyInstance, root: string) {
  const csp = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
  if (!existsSync(`${root}index.html`)) {
    app.get('/', async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send('<!doctype html><title>energy-pipeline</title><p>The dashboard is not built. Run <code>npm run build -w process</code> and restart the processor.</p>'),
    );
    return;
  }
  app.register(fastifyStatic, {
    root,
    // One route per file, read at start: no catch-all route, so unknown URLs keep the API's 404.
    wildcard: false,
    index: ['index.html'],
    // Its own cache-control per file (below).
    cacheControl: false,
    setHeaders(reply, path) {
      reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      reply.header('content-security-policy', csp);
      reply.header('x-content-type-options', 'nosniff');
    },
  });
}
