import { initClient } from '@ts-rest/core';
import { ingestContract, processContract } from '@energy-pipeline/contract';

export type { Reading, ErrorBody, Issue } from '@energy-pipeline/contract';

export interface ClientOptions {
  /** Base URL of the ingest API, e.g. `http://localhost:8000`. */
  ingestUrl?: string;
  /** Base URL of the processor API, e.g. `http://localhost:8001`. */
  processUrl?: string;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

const clientArgs = (baseUrl: string, headers: Record<string, string> = {}) => ({
  baseUrl: baseUrl.replace(/\/+$/, ''),
  baseHeaders: headers,
  // A status the contract does not list is a bug on one side; say so instead of guessing.
  throwOnUnknownStatus: true,
});

/** Typed client for the ingest API: every route and status of the contract, nothing else. */
export function createIngestClient(baseUrl: string, headers?: Record<string, string>) {
  return initClient(ingestContract, clientArgs(baseUrl, headers));
}

/** Typed client for the processor API. */
export function createProcessClient(baseUrl: string, headers?: Record<string, string>) {
  return initClient(processContract, clientArgs(baseUrl, headers));
}

export type IngestClient = ReturnType<typeof createIngestClient>;
export type ProcessClient = ReturnType<typeof createProcessClient>;
