import type { Suite } from '../context.js';
import { drain } from './drain.js';
import { ingestBatch } from './ingest-batch.js';
import { ingestSingle } from './ingest-single.js';

/** Run in this order; `--only` picks some by name (e.g. `--only drain,batch`). */
export const SUITES: Record<string, Suite> = { single: ingestSingle, batch: ingestBatch, drain };
