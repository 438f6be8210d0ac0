import fp from 'fastify-plugin';
import { type AuthConfig, installAuth } from './auth.js';
import { type DocsOptions, installDocs } from './docs.js';
import { installHttpDefaults } from './http.js';
import { installMetrics, type ServiceMetrics } from './metrics.js';

/**
 * The shared concerns as Fastify plugins. Each names the plugins it needs before it, and Fastify
 * refuses to start when one is missing or registered later, so the order of a service's app.ts
 * is checked rather than silent. They are not encapsulated (fastify-plugin): their hooks and
 * decorations apply to every route of the service.
 */

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's Prometheus registry and Redis instrumentation (metricsPlugin). */
    metrics: ServiceMetrics;
  }
}

/** JSON-only bodies, the shared error body for every failure, 404s (http.ts). */
export const httpDefaultsPlugin = fp(async (app) => installHttpDefaults(app), { name: 'ep-http', fastify: '5.x' });

/** Default and HTTP metrics, Redis command timing, and GET /metrics content negotiation (metrics.ts). */
export const metricsPlugin = fp(
  async (app) => {
    app.decorate('metrics', installMetrics(app));
  },
  { name: 'ep-metrics', fastify: '5.x' },
);

/** API keys from each route's contract metadata, before any body is read (auth.ts). */
export const authPlugin = fp<{ auth: AuthConfig; realm: string }>(async (app, { auth, realm }) => installAuth(app, auth, realm), {
  name: 'ep-auth',
  fastify: '5.x',
  dependencies: ['ep-http'],
});

/** /openapi.json and Swagger UI at /docs, from the contract (docs.ts). */
export const docsPlugin = fp<DocsOptions>(async (app, options) => installDocs(app, options), {
  name: 'ep-docs',
  fastify: '5.x',
});
