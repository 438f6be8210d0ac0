import type { z } from 'zod';

/**
 * The instant the contract's examples are written as of. A fixed date in an example ages: a
 * reading timestamped with it would one day be refused as too old (READING_MAX_AGE_S), so the
 * OpenAPI generator moves every date-time in the examples by the same amount, from this instant
 * to the document's "now" (openapi-examples.ts). Write examples relative to it: a range that ends
 * here and starts an hour before becomes the last hour.
 */
export const EXAMPLE_TIME = '2026-01-15T10:30:00Z';

/** EXAMPLE_TIME shifted by `ms` (negative: earlier), in the same whole-second `Z` form. */
export const exampleTime = (ms = 0) => new Date(Date.parse(EXAMPLE_TIME) + ms).toISOString().replace('.000Z', 'Z');

/**
 * The schema with `examples` in its metadata, typed against what it accepts. The OpenAPI
 * documents show the first one (OpenAPI 3.0 has one `example`); each must be a valid input
 * (contract/test/openapi-examples.test.ts checks it).
 */
export function withExamples<T extends z.ZodType>(schema: T, ...examples: z.input<T>[]): T {
  return schema.meta({ examples }) as T;
}
