import { createWatch, type EnergyPipelineError, type Watch } from '@energy-pipeline/client';
import { useEffect, useState } from 'preact/hooks';

const KEY = 'energy-pipeline.api-key';

/**
 * The API key, kept in sessionStorage only: it lives as long as the tab, is never written to
 * localStorage or a cookie, and never goes into a URL (it is sent as `Authorization: Bearer`).
 */
export const apiKey = {
  get: () => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

const headers = (): Record<string, string> => {
  const key = apiKey.get();
  return key ? { authorization: `Bearer ${key}` } : {};
};

/** The SDK's subscriptions against this page's own processor; a dashboard keeps retrying for ever. */
export function watch(): Watch {
  return createWatch({
    baseUrl: location.origin,
    headers: headers(),
    fetch: globalThis.fetch.bind(globalThis),
    retry: { maxAttempts: Number.POSITIVE_INFINITY, maxElapsedMs: Number.POSITIVE_INFINITY, baseDelayMs: 500, maxDelayMs: 5_000 },
  });
}

/** GET a processor route (REST) with the key; throws { status, message } on a non-2xx answer. */
export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json', ...headers() } });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(body?.message ?? `HTTP ${res.status}`), { status: res.status });
  return body as T;
}

export type LiveState<T> = { data: T | null; error: EnergyPipelineError | Error | null };

/**
 * Runs a subscription while the component is mounted (or until `deps` change) and hands each event
 * to `onEvent`; returns the last error. `onAuth` is called when the key is missing or refused.
 */
export function useSubscription<T>(
  open: (w: Watch, signal: AbortSignal) => AsyncIterable<T>,
  onEvent: (event: T) => void,
  onAuth: (status: number) => void,
  deps: unknown[],
): Error | null {
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    (async () => {
      try {
        for await (const event of open(watch(), controller.signal)) {
          setError(null);
          onEvent(event);
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        const e = err as EnergyPipelineError;
        if (e.kind === 'unauthorized' || e.kind === 'forbidden') onAuth(e.status ?? 401);
        setError(e);
      }
    })();
    return () => controller.abort();
    // The caller lists what restarts the subscription (e.g. the site id).
  }, deps);
  return error;
}
