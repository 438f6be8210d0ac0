import type { Suite } from '../context.js';
import { clusterSpread } from './cluster.js';
import { drain } from './drain.js';
import { ingestBatch } from './ingest-batch.js';
import { ingestSingle } from './ingest-single.js';
import { waitCost } from './wait.js';

/** Run in this order; `--only` picks some by name (e.g. `--only drain,batch`). */
export const SUITES: Record<string, Suite> = { single: ingestSingle, batch: ingestBatch, drain };

/**
 * Run after SUITES with `--cluster` (or by name with `--only`): they start clusters and replicas
 * of their own, and their rows (rows.ts CLUSTER_ROWS) are shown only when they run.
 */
export const CLUSTER_SUITES: Record<string, Suite> = { cluster: clusterSpread, wait: waitCost };
