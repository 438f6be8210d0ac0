import type { FastifyInstance } from 'fastify';
import type { AppRouter } from '@ts-rest/core';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { buildOpenApiDocument, type OpenApiInfo } from '@energy-pipeline/contract/openapi';

/**
 * Serves the contract's OpenAPI document at /openapi.json and Swagger UI at /docs. The document
 * is generated once, from the contract (never from Fastify's routes), so it cannot drift from
 * what the SDK is typed against; @fastify/swagger runs in static mode only to feed the UI.
 * Both stay open: they describe the API, they do not expose data.
 */
export function installDocs(app: FastifyInstance, contract: AppRouter, info: OpenApiInfo) {
  const document = buildOpenApiDocument(contract, info);
  app.get('/openapi.json', { logLevel: 'warn' }, async () => document);
  app.register(async (scope) => {
    await scope.register(fastifySwagger, { mode: 'static', specification: { document: document as never } });
    await scope.register(fastifySwaggerUi, { routePrefix: '/docs', logLevel: 'warn' });
  });
}
