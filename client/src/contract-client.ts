import { type AppRouter, initClient, isAppRoute } from '@ts-rest/core';
import type { ContractClient, Router } from './route-types.js';
import {
  callWithRetry,
  createFetcher,
  type RawResponse,
  type RetryMode,
  type RouteCallOptions,
  type TransportConfig,
} from './transport.js';

export type { ContractClient, RouteAnswer, RouteArgs, RouteCall } from './route-types.js';

type RawCall = (args: Record<string, unknown>) => Promise<RawResponse>;

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

export interface ContractClientOptions {
  baseUrl: string;
  headers: Record<string, string>;
  transport: TransportConfig;
  /** Routes that are safe to resend whatever their method (e.g. POST /readings, thanks to reading_id). */
  idempotentRoutes?: readonly string[];
}

/**
 * Derives a client from a ts-rest contract: ts-rest builds each request from the route, this adds
 * timeouts, retries and typed errors. A route added to the contract appears here, typed, with no
 * change to the SDK.
 */
export function createContractClient<T extends AppRouter & Router>(contract: T, options: ContractClientOptions): ContractClient<T> {
  const raw = initClient(contract, {
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    baseHeaders: options.headers,
    api: createFetcher(options.transport),
    // Statuses outside the contract (a proxy's 502) become typed errors here, not ts-rest's.
    throwOnUnknownStatus: false,
  }) as unknown as Record<string, unknown>;
  const idempotent = new Set(options.idempotentRoutes ?? []);

  const wrap = (router: AppRouter, rawRouter: Record<string, unknown>, prefix: string): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(router).map(([key, node]) => {
        const name = prefix + key;
        if (!isAppRoute(node)) return [key, wrap(node, rawRouter[key] as Record<string, unknown>, `${name}.`)];
        const call = rawRouter[key] as RawCall;
        const documented = new Set(Object.keys(node.responses).map(Number));
        const mode: RetryMode = IDEMPOTENT_METHODS.has(node.method) || idempotent.has(name) ? 'idempotent' : 'refused-only';
        const method = (args: Record<string, unknown> & RouteCallOptions = {}) => {
          const { signal, onRetry, ...request } = args;
          return callWithRetry(
            options.transport,
            documented,
            (attemptSignal) => call({ ...request, fetchOptions: { signal: attemptSignal } }),
            mode,
            { signal, onRetry },
          );
        };
        return [key, method];
      }),
    );

  return wrap(contract, raw, '') as ContractClient<T>;
}
