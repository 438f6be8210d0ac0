export * from './errors.js';
export * from './ingest-contract.js';
export * from './process-contract.js';
export * from './query-schemas.js';
export * from './reading.js';
export * from './route-auth.js';
export * from './live-schemas.js';
