// The services' shared kit: configuration, Redis connections and key names, shards, Fastify plumbing.
export * from './api-keys.js';
export * from './auth.js';
export * from './config.js';
export * from './docs.js';
export * from './stream-state.js';
export * from './http.js';
export * from './breaker.js';
export * from './layout.js';
export * from './redis-check.js';
export * from './lifecycle.js';
export * from './memory-policy.js';
export * from './metrics.js';
export * from './redis.js';
export * from './redis-keys.js';
export * from './shards.js';
export * from './lua.js';
export * from './periodic.js';
