import type { AppRouter } from '@ts-rest/core';
import { generateOpenApi } from '@ts-rest/open-api';
import { z } from 'zod';
import { BatchItemSchema, metricsTextContentTypes } from './ingest-contract.js';
import { errorExample, exampleShiftTo, isErrorBody, setOpenApiExample, shiftExampleTimes } from './openapi-examples.js';
import { ReadingSchema } from './reading.js';
import { routeMetadata } from './route-auth.js';

export { shiftExampleTimes, wholeSeconds } from './openapi-examples.js';

export type OpenApiDocument = ReturnType<typeof generateOpenApi>;

/** JSON Schema (OpenAPI 3.0 dialect) of a zod 4 schema; input shape for requests, output for responses. */
function toSchema(schema: z.ZodType, io: 'input' | 'output') {
  return z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: 'any',
    // Batch items are `unknown` so the server can check them one by one; document what they must be.
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema === BatchItemSchema) {
        const { description } = jsonSchema;
        Object.assign(jsonSchema, toSchema(ReadingSchema, 'input'), { description });
      }
      setOpenApiExample(zodSchema, jsonSchema as Record<string, unknown>);
    },
  }) as Record<string, unknown>;
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

export interface OpenApiOptions {
  /**
   * The instant the examples' date-times are moved to (examples.ts): "Try it out" sends a reading
   * timestamped then. @default Date.now() when the document is built
   */
  now?: number;
  /**
   * Whether the service serving the document checks API keys (AUTH_DISABLED=false), said in the
   * info and the security scheme. @default undefined: not said (a document built outside a service)
   */
  authEnabled?: boolean;
}

/**
 * The project's license, as its packages declare it (client/package.json: MIT). OpenAPI 3.0's
 * License has no SPDX `identifier` (3.1 added it), so the SPDX page is the url.
 */
export const API_LICENSE = { name: 'MIT', url: 'https://spdx.org/licenses/MIT.html' } as const;

const KEY_SCHEME = 'An API key issued by the operator; the service stores only its SHA-256 hash.';

/** What the served document says about the running service's auth, or nothing when it is not known. */
function authNote(authEnabled: boolean | undefined): string | undefined {
  if (authEnabled === undefined) return undefined;
  return authEnabled
    ? 'Auth is on: every route but the probes, metrics and these docs needs an API key, sent as ' +
        '`Authorization: Bearer <key>` (Authorize, in Swagger UI).'
    : 'Auth is OFF on this instance (AUTH_DISABLED=true, for local development only): every route ' +
        'answers without an API key. The security requirements below are what a deployment with auth on asks for.';
}

/**
 * The OpenAPI 3 document of a contract. @ts-rest/open-api's default transformer only knows zod 3
 * (it would emit empty schemas for zod 4), so schemas come from zod 4's own `z.toJSONSchema`, with
 * the examples of the contract's metadata (examples.ts), their date-times moved to `now`.
 * Each route's security requirement comes from its `metadata.auth` (route-auth.ts): the bearer
 * key and, in its description, the scope it needs; public routes declare an empty one (`[]`: no
 * key). The server is relative (`/`): the service that serves the document. GET /metrics lists
 * the Prometheus text format beside its JSON body.
 */
export function buildOpenApiDocument(contract: AppRouter, info: OpenApiInfo, options: OpenApiOptions = {}): OpenApiDocument {
  const note = authNote(options.authEnabled);
  const description = [info.description, note].filter(Boolean).join('\n\n') || undefined;
  const doc = generateOpenApi(
    contract,
    {
      info: { ...info, ...(description ? { description } : {}), license: { ...API_LICENSE } },
      servers: [{ url: '/', description: 'The service that serves this document' }],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: note ? `${KEY_SCHEME} ${note}` : KEY_SCHEME },
        },
      },
    },
    {
      setOperationId: true,
      schemaTransformer: ({ schema, type }) =>
        schema instanceof z.ZodType ? toSchema(schema, type === 'response' ? 'output' : 'input') : null,
      operationMapper: (operation, route) => {
        const { auth, sites } = routeMetadata(route);
        // An empty requirement says "no key" outright; a missing one would mean "whatever the top level says".
        operation.security = auth === 'public' ? [] : [{ apiKey: [] }];
        if (auth !== 'public') {
          // OpenAPI 3.0 has scopes only for OAuth; the scope a bearer key needs is said in words.
          const scope = `Needs an API key with the \`${auth}\` scope${auth === 'read' ? ' (or `admin`)' : ''}` +
            (sites === 'param' ? ' that may read this site' : sites === undefined ? ' for every site' : '') + '.';
          operation.description = operation.description ? `${operation.description}\n\n${scope}` : scope;
        }
        for (const [status, response] of Object.entries(operation.responses)) {
          const media = response.content?.['application/json'];
          const example = errorExample(Number(status));
          if (media && example && isErrorBody((route.responses as Record<string, unknown>)[status])) media.example = example;
        }
        if (route.method === 'GET' && route.path === '/metrics' && operation.responses['200']?.content) {
          for (const type of metricsTextContentTypes) {
            operation.responses['200'].content[type] = {
              schema: { type: 'string', description: 'Prometheus text exposition format, version 0.0.4' },
            };
          }
        }
        return operation;
      },
    },
  );
  return shiftExampleTimes(doc, exampleShiftTo(options.now ?? Date.now()));
}
