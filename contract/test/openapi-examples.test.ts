import { describe, expect, it } from 'vitest';
import { type AppRouter, ContractNoBody, isAppRoute } from '@ts-rest/core';
import type { z } from 'zod';
import { checkTimestampWindow, codeOfStatus, EXAMPLE_TIME, ingestContract, processContract } from '../src/index.js';
import { buildOpenApiDocument, shiftExampleTimes } from '../src/openapi.js';

type Schema = { example?: unknown; properties?: Record<string, Schema> };
type Parameter = { name: string; in: 'path' | 'query'; required?: boolean; schema: Schema & { default?: unknown } };
type Media = { schema: Schema; example?: unknown };
type Operation = {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
};

/** A fixed "now", far from EXAMPLE_TIME, so that a missed shift shows. */
const NOW = Date.parse('2031-07-04T08:09:10.789Z');
const NOW_ISO = '2031-07-04T08:09:10Z';
const routes = (contract: AppRouter) => Object.values(contract).filter(isAppRoute);
const operation = (doc: ReturnType<typeof buildOpenApiDocument>, method: string, path: string) =>
  (doc.paths[path.replace(/:(\w+)/g, '{$1}')] as Record<string, Operation>)[method.toLowerCase()]!;
const parse = (schema: unknown, value: unknown) => (schema as z.ZodType).safeParse(value);

describe.each([
  ['ingest', ingestContract],
  ['process', processContract],
])('the %s document\'s examples ("Try it out")', (_name, contract) => {
  const doc = buildOpenApiDocument(contract, { title: 'x', version: '1' }, { now: NOW });

  it('give every request body an example that the route accepts', () => {
    for (const route of routes(contract)) {
      if (!('body' in route) || route.body === ContractNoBody || route.body === null) continue;
      const example = operation(doc, route.method, route.path).requestBody!.content['application/json']!.schema.example;
      expect(example, `${route.method} ${route.path}`).toBeDefined();
      const result = parse(route.body, example);
      expect(result.error?.issues ?? [], `${route.method} ${route.path}`).toEqual([]);
    }
  });

  it('give every JSON response an example that the route could answer with, errors one with their status\'s code', () => {
    for (const route of routes(contract)) {
      for (const [status, response] of Object.entries(operation(doc, route.method, route.path).responses)) {
        const media = response.content?.['application/json'];
        const example = media?.example ?? media?.schema.example;
        const where = `${route.method} ${route.path} ${status}`;
        expect(example, where).toBeDefined();
        const result = parse((route.responses as Record<string, unknown>)[status], example);
        expect(result.error?.issues ?? [], where).toEqual([]);
        const { error } = example as { error?: string };
        // A 400 is shown as the most common one, a field that is wrong.
        const code = codeOfStatus(Number(status));
        if (Number(status) >= 400 && error !== undefined) expect(error, where).toBe(code === 'bad_request' ? 'validation_failed' : code);
      }
    }
  });

  it('give every path parameter an example, and the path and query examples are accepted together', () => {
    for (const route of routes(contract)) {
      const params = operation(doc, route.method, route.path).parameters ?? [];
      for (const p of params.filter((p) => p.in === 'path')) expect(p.schema.example, `${route.path} ${p.name}`).toBeDefined();
      const values = (where: Parameter['in']) =>
        Object.fromEntries(params.filter((p) => p.in === where && p.schema.example !== undefined).map((p) => [p.name, p.schema.example]));
      if (route.pathParams) expect(parse(route.pathParams, values('path')).success, route.path).toBe(true);
      if (route.query) expect(parse(route.query, values('query')).success, route.path).toBe(true);
    }
  });

  it('hold no date-time that was not moved to now, or to a fixed span before it', () => {
    const examples: unknown[] = [];
    const collect = (node: unknown, inProperties = false): void => {
      if (!node || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (key === 'example' && !inProperties) examples.push(value);
        else collect(value, key === 'properties' && !inProperties);
      }
    };
    collect(doc);
    const times = [...JSON.stringify(examples).matchAll(/\d{4}-\d\d-\d\dT[\d:.]+Z/g)].map((m) => Date.parse(m[0]));
    expect(times.length).toBeGreaterThan(0);
    for (const t of times) expect(Date.parse(NOW_ISO) - t).toBeGreaterThanOrEqual(0);
    for (const t of times) expect(Date.parse(NOW_ISO) - t).toBeLessThanOrEqual(3_600_000);
    expect(JSON.stringify(doc)).not.toContain(EXAMPLE_TIME);
  });
});

describe('the example reading', () => {
  const doc = buildOpenApiDocument(ingestContract, { title: 'x', version: '1' }, { now: NOW });
  const body = (path: string) => operation(doc, 'POST', path).requestBody!.content['application/json']!.schema;

  it('is a realistic reading of the seed\'s device, timestamped at the document\'s now', () => {
    const reading = { site_id: 'site-001', device_id: 'device-001', power_reading: 1500.5, timestamp: NOW_ISO };
    expect(body('/readings').example).toEqual(reading);
    expect(body('/readings/batch').example).toEqual({ readings: [reading] });
    expect(body('/readings/batch').properties!.readings!.example).toBeUndefined();
    // What ingest checks besides the schema: not from the future, not older than a day.
    expect(checkTimestampWindow(reading.timestamp, { maxFutureSkewMs: 0, maxAgeMs: 86_400_000 }, NOW)).toBeNull();
  });

  it('shows each field with an example of its own', () => {
    const fields = body('/readings').properties!;
    expect(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.example]))).toEqual({
      site_id: 'site-001',
      device_id: 'device-001',
      power_reading: 1500.5,
      timestamp: NOW_ISO,
      reading_id: 'device-001-000042',
      seq: 42,
    });
  });

  it('follows the clock it is built with', () => {
    const later = buildOpenApiDocument(ingestContract, { title: 'x', version: '1' }, { now: NOW + 90_000 });
    const example = (operation(later, 'POST', '/readings').requestBody!.content['application/json']!.schema.example as { timestamp: string });
    expect(example.timestamp).toBe('2031-07-04T08:10:40Z');
  });
});

describe('shiftExampleTimes', () => {
  it('moves date-times inside examples only, and takes a property named example for a property', () => {
    const node = {
      description: 'since 2026-01-15T10:30:00Z',
      default: '2026-01-15T10:30:00Z',
      example: { at: '2026-01-15T10:30:00+01:00', id: '1768473000000-0', list: ['2026-01-15T10:30:00.5Z', 'x'] },
      properties: { example: { type: 'string', example: '2026-01-15T10:30:00Z' } },
    };
    expect(shiftExampleTimes(node, 60_000)).toEqual({
      description: 'since 2026-01-15T10:30:00Z',
      default: '2026-01-15T10:30:00Z',
      example: { at: '2026-01-15T09:31:00Z', id: '1768473000000-0', list: ['2026-01-15T10:31:00.500Z', 'x'] },
      properties: { example: { type: 'string', example: '2026-01-15T10:31:00Z' } },
    });
    expect(node.example.at).toBe('2026-01-15T10:30:00+01:00');
  });
});
