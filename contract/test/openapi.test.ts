import { describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { isAppRoute, type AppRouter } from '@ts-rest/core';
import { ingestContract, processContract, routeMetadata } from '../src/index.js';
import { API_LICENSE, buildOpenApiDocument } from '../src/openapi.js';

type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[] };
type Operation = {
  security?: unknown[];
  description?: string;
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
};

const routes = (contract: AppRouter) => Object.values(contract).filter(isAppRoute);
/** ts-rest writes `/sites/:site_id`, OpenAPI `/sites/{site_id}`. */
const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');
/** A schema that says something: a type, properties or alternatives, not `{}`. */
const nonEmpty = (s: Schema | undefined) => !!s && (s.type !== undefined || !!s.anyOf?.length || !!s.oneOf?.length);

describe.each([
  ['ingest', ingestContract],
  ['process', processContract],
])('the %s OpenAPI document', (name, contract) => {
  const doc = buildOpenApiDocument(contract, { title: name, version: '1' });

  it('is valid OpenAPI 3', async () => {
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\./);
  });

  it('lists every contract route with every status and non-empty JSON schemas', () => {
    for (const route of routes(contract)) {
      const op = (doc.paths[openApiPath(route.path)] as Record<string, Operation> | undefined)?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path}`).toBeDefined();
      expect(Object.keys(op!.responses).sort()).toEqual(Object.keys(route.responses).sort());
      for (const [status, response] of Object.entries(op!.responses)) {
        expect(nonEmpty(response.content?.['application/json']?.schema), `${route.path} ${status}`).toBe(true);
      }
      if ('body' in route && route.body !== null) {
        const body = op!.requestBody?.content['application/json']?.schema;
        expect(body?.type).toBe('object');
        expect(Object.keys(body?.properties ?? {}).length).toBeGreaterThan(0);
      } else {
        // No body (`body: null`, or none on a DELETE): none documented either.
        expect(op!.requestBody, `${route.method} ${route.path}`).toBeUndefined();
      }
      // Routes whose metadata asks for a key declare the bearer key and say which scope; open ones say "no key".
      const { auth } = routeMetadata(route);
      expect(op!.security, `${route.method} ${route.path}`).toEqual(auth === 'public' ? [] : [{ apiKey: [] }]);
      if (auth !== 'public') expect(op!.description).toContain(`\`${auth}\` scope`);
    }
  });

  it('names the license, and the serving service as its server', () => {
    expect(doc.info.license).toEqual(API_LICENSE);
    expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }]);
  });

  it('says whether auth is on where the running service knows it, and nothing when it does not', () => {
    const on = buildOpenApiDocument(contract, { title: name, version: '1', description: 'About.' }, { authEnabled: true });
    const off = buildOpenApiDocument(contract, { title: name, version: '1' }, { authEnabled: false });
    expect(on.info.description).toMatch(/^About\.\n\nAuth is on: /);
    expect(on.components?.securitySchemes?.apiKey).toMatchObject({ description: expect.stringContaining('Auth is on') });
    expect(off.info.description).toMatch(/^Auth is OFF on this instance \(AUTH_DISABLED=true/);
    expect(off.components?.securitySchemes?.apiKey).toMatchObject({ description: expect.stringContaining('Auth is OFF') });
    expect(doc.info.description).toBeUndefined();
    expect(JSON.stringify(doc.components?.securitySchemes)).not.toMatch(/Auth is/);
  });

  it('offers the Prometheus text format beside JSON on GET /metrics', () => {
    const content = (doc.paths['/metrics'] as Record<string, Operation>).get!.responses['200']!.content!;
    expect(Object.keys(content).sort()).toEqual(['application/json', 'application/openmetrics-text', 'text/plain']);
  });
});

describe('the ingest document', () => {
  const doc = buildOpenApiDocument(ingestContract, { title: 'ingest', version: '1' });
  const op = (path: string) => (doc.paths[path] as Record<string, Operation>).post!;

  it('shows the Reading schema for batch items, which the server checks one by one', () => {
    const single = op('/readings').requestBody!.content['application/json']!.schema;
    const items = op('/readings/batch').requestBody!.content['application/json']!.schema.properties!.readings!.items!;
    expect(items.properties).toEqual(single.properties);
    expect(Object.keys(items.properties!)).toEqual(['site_id', 'device_id', 'power_reading', 'timestamp', 'reading_id', 'seq']);
  });

  it('describes the bearer API key scheme', () => {
    expect(doc.components?.securitySchemes).toMatchObject({ apiKey: { type: 'http', scheme: 'bearer' } });
  });
});
