import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type ErrorBody, IdSchema, routeMetadata, type RouteMetadata } from '@energy-pipeline/contract';
import { allowsSite, hasScope, keyFinder, parseApiKeys, type ApiKey } from './api-keys.js';
import { booleanFlag, ConfigError } from './config.js';
import { refuseInHook } from './answers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key this request was authenticated with; null when auth is off or the route is open. */
    apiKey: ApiKey | null;
  }
}

const keyList = z.string().transform((text, ctx) => {
  const parsed = parseApiKeys(text);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  return typeof parsed === 'string' ? z.NEVER : parsed;
});

const keyFile = z.string().transform((path, ctx) => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${path}: ${(err as Error).message}` });
    return z.NEVER;
  }
  const parsed = parseApiKeys(text);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: `${path}: ${parsed}` });
  return typeof parsed === 'string' ? z.NEVER : parsed;
});

/** The API-key part of both services' environment: one key file can serve both. */
export const authEnvShape = {
  /** Keys in the format of parseApiKeys (api-keys.ts). */
  API_KEYS: keyList.optional(),
  /** A file in the same format, e.g. a mounted Kubernetes Secret; combined with API_KEYS. */
  API_KEYS_FILE: keyFile.optional(),
  /** true: every route is open. For local development only. */
  AUTH_DISABLED: booleanFlag(false),
};

export interface AuthConfig {
  /** Accepted keys (API_KEYS and API_KEYS_FILE together); empty only when auth is disabled. */
  keys: ApiKey[];
  /** AUTH_DISABLED=true: no route needs a key. For local development only. @default false */
  disabled: boolean;
}

/**
 * The auth configuration from the parsed environment. Fails closed: with auth on and no key
 * configured the service refuses to start, since a deployment that forgot its keys must not
 * silently accept anyone (or, on the processor, silently refuse everyone).
 */
export function authConfigFrom(env: { API_KEYS?: ApiKey[] | undefined; API_KEYS_FILE?: ApiKey[] | undefined; AUTH_DISABLED: boolean }): AuthConfig {
  if (env.AUTH_DISABLED) return { keys: [], disabled: true };
  const keys = [...(env.API_KEYS ?? []), ...(env.API_KEYS_FILE ?? [])];
  if (keys.length === 0) {
    throw new ConfigError(
      'Invalid configuration:\n  API_KEYS: no API key configured; set API_KEYS or API_KEYS_FILE ' +
        '(or AUTH_DISABLED=true for local development)',
    );
  }
  const duplicate = keys.find((k, i) => keys.findIndex((other) => other.hash.equals(k.hash)) !== i);
  if (duplicate) {
    throw new ConfigError(`Invalid configuration:\n  API_KEYS: the key ${duplicate.id}… is in both API_KEYS and API_KEYS_FILE`);
  }
  return { keys, disabled: false };
}

/**
 * What the route of a request needs, from its contract metadata. ts-rest registers each route
 * with its contract entry as `config.tsRestRoute`; other routes may carry the same metadata as
 * `config.routeAuth`; the rest (/openapi.json, /docs, the dashboard's files) and unknown URLs
 * (answered 404) need nothing.
 */
export function requestAuth(request: FastifyRequest): RouteMetadata {
  const config = request.routeOptions.config as { tsRestRoute?: { metadata?: unknown }; routeAuth?: unknown } | undefined;
  if (config?.tsRestRoute) return routeMetadata(config.tsRestRoute);
  // Routes outside ts-rest (the processor's tRPC routes) declare the same metadata as `routeAuth`.
  if (config?.routeAuth !== undefined) return routeMetadata({ metadata: config.routeAuth });
  return { auth: 'public' };
}

/** A bearer token is one token68 (RFC 6750); anything longer than this is not one of ours. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,512}=*) *$/i;

function refuse(reply: FastifyReply, status: 401 | 403, challenge: string, message: string) {
  reply.header('www-authenticate', challenge);
  const body: ErrorBody = { error: status === 401 ? 'unauthorized' : 'forbidden', message };
  return refuseInHook(reply, status, body);
}

/**
 * The auth hook both services install, driven by each route's `metadata` in the contract, before
 * any body is read (RFC 6750 answers):
 * - 401 with `WWW-Authenticate: Bearer realm="<realm>"` without a key, or with
 *   `error="invalid_token"` for a wrong or malformed one;
 * - 403 with `error="insufficient_scope"` for a key without the route's scope (admin implies
 *   read), for a site-limited key on a `:site_id` outside its sites, or on a route that is not
 *   about one site (dead letters). Routes whose handler applies the key's sites (`sites:
 *   'handler'`) find the key in `request.apiKey`.
 */
export function installAuth(app: FastifyInstance, auth: AuthConfig, realm: string) {
  app.decorateRequest('apiKey', null);
  if (auth.disabled) return;
  const findKey = keyFinder(auth.keys);
  // A callback hook, not an async one: it never waits, and a promise per request is not free on
  // the write route. It answers the request itself when it refuses, or lets it go on.
  app.addHook('onRequest', (request, reply, done) => {
    if (!refused(request, reply)) done();
  });

  /** Answers 401 or 403 and returns the reply, or returns undefined when the request may go on. */
  function refused(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const need = requestAuth(request);
    if (need.auth === 'public') return undefined;
    const header = request.headers.authorization;
    const token = header === undefined ? null : (BEARER.exec(header)?.[1] ?? '');
    const key = token ? findKey(token) : null;
    if (!key) {
      const missing = token === null;
      // The token itself is never logged; pino also redacts the Authorization header.
      request.log.info({ reason: missing ? 'no key' : 'wrong key' }, 'request unauthenticated');
      return refuse(
        reply,
        401,
        missing ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="invalid_token"`,
        missing ? 'An API key is required: send Authorization: Bearer <key>' : 'The API key is not valid',
      );
    }
    request.apiKey = key;
    const insufficient = (message: string) => {
      request.log.info({ key: key.id, need: need.auth }, 'request forbidden');
      return refuse(reply, 403, `Bearer realm="${realm}", error="insufficient_scope", scope="${need.auth}"`, message);
    };
    if (!hasScope(key, need.auth)) {
      return insufficient(`This API key may not do this: it needs the ${need.auth} scope (the key has ${[...key.scopes].join(', ')})`);
    }
    if (key.sites === null || need.sites === 'handler') return undefined;
    if (need.sites === undefined) {
      return insufficient('This API key is limited to some sites; this route needs a key for every site');
    }
    // An invalid site id is left to validation (400); a valid one is compared as it will be used.
    const site = IdSchema.safeParse((request.params as Record<string, unknown> | undefined)?.site_id);
    if (site.success && !allowsSite(key, site.data)) {
      return insufficient(`This API key may not read site '${site.data}'`);
    }
    return undefined;
  }
}
