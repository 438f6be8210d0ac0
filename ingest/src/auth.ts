import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ingestContract, type ErrorBody } from '@energy-pipeline/contract';
import { findKey, type ApiKey } from './api-keys.js';
import type { AuthConfig } from './config.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key this request was authenticated with; null when auth is off or the route is open. */
    apiKey: ApiKey | null;
  }
}

/** The routes that need a key are those whose contract lists a 401; health, metrics and docs stay open. */
const guarded = new Set(
  Object.values(ingestContract)
    .filter((route) => '401' in route.responses)
    .map((route) => `${route.method} ${route.path}`),
);

export function isWriteRoute(request: FastifyRequest): boolean {
  return guarded.has(`${request.method} ${request.routeOptions.url}`);
}

/** A bearer token is one token68 (RFC 6750); anything longer than this is not one of ours. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,512}=*) *$/i;

/**
 * Checks `Authorization: Bearer <token>` on the write routes before their bodies are read:
 * 401 with WWW-Authenticate without a key or with a wrong one. Which sites a key may write for
 * is checked per reading, by the handlers (403, or a `forbidden` batch item).
 */
export function installAuth(app: FastifyInstance, auth: AuthConfig) {
  app.decorateRequest('apiKey', null);
  if (auth.disabled) return;
  app.addHook('onRequest', async (request, reply) => {
    if (!isWriteRoute(request)) return;
    const header = request.headers.authorization;
    const token = header === undefined ? null : (BEARER.exec(header)?.[1] ?? '');
    const key = token ? findKey(auth.keys, token) : null;
    if (key) {
      request.apiKey = key;
      return;
    }
    const missing = token === null;
    // The token itself is never logged; pino also redacts the Authorization header.
    request.log.info({ reason: missing ? 'no key' : 'wrong key' }, 'request unauthenticated');
    reply.header('www-authenticate', missing ? 'Bearer realm="ingest"' : 'Bearer realm="ingest", error="invalid_token"');
    const body: ErrorBody = {
      error: 'unauthorized',
      message: missing
        ? 'An API key is required: send Authorization: Bearer <key>'
        : 'The API key is not valid',
    };
    return reply.status(401).send(body);
  });
}
