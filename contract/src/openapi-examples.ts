import { z } from 'zod';
import { type ErrorBody, ErrorSchema } from './errors.js';
import { EXAMPLE_TIME } from './examples.js';

/**
 * The first of a schema's metadata `examples`, its own or inherited from the schema it was
 * derived from (`.describe()`, `.optional()` make new schemas). z.toJSONSchema drops `examples`
 * on the input side of a transform (the time zone's canonicalization), and of any object holding
 * one, since it cannot know they are valid inputs; ours are (withExamples types them so, and a
 * test parses each), so they are read from the registry instead.
 */
function metaExample(schema: z.core.$ZodType): { value: unknown } | null {
  for (let s: z.core.$ZodType | undefined = schema; s; s = s._zod.parent) {
    const examples = z.globalRegistry.get(s)?.examples;
    if (Array.isArray(examples) && examples.length > 0) return { value: examples[0] };
  }
  return null;
}

/**
 * Turns JSON Schema `examples` (an array, which OpenAPI 3.0 schemas do not have) into the
 * OpenAPI 3.0 `example` that Swagger UI fills "Try it out" with. For z.toJSONSchema's `override`.
 */
export function setOpenApiExample(zodSchema: z.core.$ZodType, jsonSchema: Record<string, unknown>): void {
  const own = Array.isArray(jsonSchema.examples) && jsonSchema.examples.length > 0 ? { value: jsonSchema.examples[0] } : null;
  delete jsonSchema.examples;
  const example = own ?? metaExample(zodSchema);
  if (example) jsonSchema.example = example.value;
}

/** An ISO 8601 date-time with a zone, as the examples write them. */
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;
const toIso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function shiftTimes(value: unknown, shiftMs: number): unknown {
  if (typeof value === 'string') return DATE_TIME.test(value) ? toIso(Date.parse(value) + shiftMs) : value;
  if (Array.isArray(value)) return value.map((v) => shiftTimes(v, shiftMs));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shiftTimes(v, shiftMs)]));
  }
  return value;
}

/**
 * A copy of an OpenAPI document whose examples are `shiftMs` later: every date-time in every
 * `example` moves, nothing else changes. A schema's `properties` are names, not keywords, so a
 * property called `example` is walked into, not taken for one.
 */
export function shiftExampleTimes<T>(node: T, shiftMs: number, inProperties = false): T {
  if (Array.isArray(node)) return node.map((v) => shiftExampleTimes(v, shiftMs)) as T;
  if (!node || typeof node !== 'object') return node;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    copy[key] =
      key === 'example' && !inProperties ? shiftTimes(value, shiftMs) : shiftExampleTimes(value, shiftMs, key === 'properties' && !inProperties);
  }
  return copy as T;
}

/** Whole seconds: examples read `…T10:30:00Z`, not `…T10:30:00.123Z`. */
export const wholeSeconds = (ms: number) => Math.floor(ms / 1000) * 1000;

/** How far EXAMPLE_TIME must move to become `nowMs` (to the second). */
export const exampleShiftTo = (nowMs: number) => wholeSeconds(nowMs) - Date.parse(EXAMPLE_TIME);

/**
 * The error body each status is documented with (the schema's own example is a 400). Messages
 * are typical, not exact: the code is what clients act on.
 */
const ERROR_EXAMPLES: Readonly<Record<number, ErrorBody>> = {
  401: { error: 'unauthorized', message: 'An API key is required: send Authorization: Bearer <key>' },
  403: { error: 'forbidden', message: "This API key may not read site 'site-001'" },
  404: { error: 'not_found', message: "No site 'site-001'" },
  409: {
    error: 'conflict',
    message:
      "Not stored: device 'device-001' at site 'site-001' already has a different reading at seq 42 (power_reading differs). " +
      'A resend must repeat the reading exactly; a new measurement needs its own seq',
    issues: [{ in: 'body', path: 'power_reading', message: 'differs from the reading already stored under this identity' }],
  },
  413: { error: 'payload_too_large', message: 'Request body is too large' },
  415: { error: 'unsupported_media_type', message: "Unsupported Media Type: text/plain; send application/json" },
  429: { error: 'rate_limited', message: 'Rate limit exceeded for this API key; retry after Retry-After seconds' },
  500: { error: 'internal_error', message: 'Internal server error' },
  503: { error: 'unavailable', message: 'Redis is unavailable; retry later', outcome: 'not_stored' },
};

/** The example of an error answer with this status, or null for the schema's own (400). */
export const errorExample = (status: number): ErrorBody | null => ERROR_EXAMPLES[status] ?? null;

/** Whether a response schema is the shared error body (ErrorSchema, or one derived with `.describe()`). */
export function isErrorBody(schema: unknown): boolean {
  for (let s = schema as z.core.$ZodType | undefined; s; s = s._zod.parent) if (s === ErrorSchema) return true;
  return false;
}
