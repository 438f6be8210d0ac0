import type { AppRouter } from '@ts-rest/core';
import { generateOpenApi } from '@ts-rest/open-api';
import { z } from 'zod';
import { BatchItemSchema, metricsTextContentTypes } from './ingest-contract.js';
import { ReadingSchema } from './reading.js';
import { routeMetadata } from './route-auth.js';

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
    },
  }) as Record<string, unknown>;
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/**
 * The OpenAPI 3 document of a contract. @ts-rest/open-api's default transformer only knows zod 3
 * (it would emit empty schemas for zod 4), so schemas come from zod 4's own `z.toJSONSchema`.
 * Each route's security requirement comes from its `metadata.auth` (route-auth.ts): the bearer
 * key and, in its description, the scope it needs; public routes declare none. GET /metrics lists
 * the Prometheus text format beside its JSON body.
 */
export function buildOpenApiDocument(contract: AppRouter, info: OpenApiInfo): OpenApiDocument {
  const doc = generateOpenApi(
    contract,
    {
      info,
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key issued by the operator; the service stores only its SHA-256 hash.',
          },
        },
      },
    },
    {
      setOperationId: true,
      schemaTransformer: ({ schema, type }) =>
        schema instanceof z.ZodType ? toSchema(schema, type === 'response' ? 'output' : 'input') : null,
      operationMapper: (operation, route) => {
        const { auth, sites } = routeMetadata(route);
        if (auth !== 'public') {
          // OpenAPI 3.0 has scopes only for OAuth; the scope a bearer key needs is said in words.
          operation.security = [{ apiKey: [] }];
          const scope = `Needs an API key with the \`${auth}\` scope${auth === 'read' ? ' (or `admin`)' : ''}` +
            (sites === 'param' ? ' that may read this site' : sites === undefined ? ' for every site' : '') + '.';
          operation.description = operation.description ? `${operation.description}\n\n${scope}` : scope;
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
  return doc;
}
