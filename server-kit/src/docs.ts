import type { FastifyInstance } from 'fastify';
import type { AppRouter } from '@ts-rest/core';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { buildOpenApiDocument, type OpenApiInfo, shiftExampleTimes, wholeSeconds } from '@energy-pipeline/contract/openapi';

export interface DocsOptions {
  contract: AppRouter;
  info: OpenApiInfo;
  /** Whether the service checks API keys (not AUTH_DISABLED); the document says which. */
  authEnabled: boolean;
  /** The clock the examples' "now" is read from, in ms. @default Date.now */
  now?: () => number;
}

/**
 * Serves the contract's OpenAPI document at /openapi.json and Swagger UI at /docs. The document
 * is generated once, from the contract (never from Fastify's routes), so it cannot drift from
 * what the SDK is typed against; @fastify/swagger runs in static mode only to feed the UI.
 * Its examples' date-times are moved to the current second whenever it is served (at most once a
 * second, on a copy), so "Try it out" sends a reading timestamped now however long the service
 * has run, never one old enough to be refused. Both stay open: they describe the API, they do not
 * expose data.
 */
export function installDocs(app: FastifyInstance, { contract, info, authEnabled, now = Date.now }: DocsOptions) {
  const builtAt = wholeSeconds(now());
  const built = buildOpenApiDocument(contract, info, { now: builtAt, authEnabled });
  let served = { at: builtAt, document: built };
  const current = () => {
    const at = wholeSeconds(now());
    if (at !== served.at) served = { at, document: shiftExampleTimes(built, at - builtAt) };
    return served.document;
  };
  app.get('/openapi.json', { logLevel: 'warn' }, async () => current());
  app.register(async (scope) => {
    await scope.register(fastifySwagger, { mode: 'static', specification: { document: built as never } });
    // Swagger UI reads /docs/json (and /docs/yaml): the same document, as of now.
    await scope.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      logLevel: 'warn',
      transformSpecification: () => current() as never,
      transformSpecificationClone: false,
    });
  });
}
