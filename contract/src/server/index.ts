// Entry point for the services only: configuration, Redis and Fastify plumbing both share.
export * from './api-keys.js';
export * from './auth.js';
export * from './config.js';
export * from './docs.js';
export * from './http.js';
export * from './breaker.js';
export * from './lifecycle.js';
export * from './memory-policy.js';
export * from './metrics.js';
export * from './redis.js';
export * from '../openapi.js';
export * from '../redis-keys.js';
export * from '../milliwatts.js';
export * from '../stream-entry.js';
