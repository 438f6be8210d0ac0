import fp from 'fastify-plugin';
import { Counter, type Registry } from 'prom-client';
import { type BatchItemResult, codeOfStatus, type ErrorCode, ErrorCodeSchema } from '@energy-pipeline/contract';

export type WriteRoute = '/readings' | '/readings/batch';

/**
 * What ingest did with readings, counted twice over: as the JSON GET /metrics has always shown
 * (per instance, since start) and as Prometheus counters. Readings answered one by one count on
 * both routes; a batch refused whole (401, 413, 429, 503 before its handler ran…) counts no
 * readings, since they were never read: see http_request_duration_seconds for those requests.
 */
class ReadingCounters {
  accepted = 0;
  readonly rejectedByReason: Partial<Record<ErrorCode, number>> = {};
  private readonly acceptedTotal: Counter<'route' | 'duplicate'>;
  private readonly rejectedTotal: Counter<'route' | 'reason'>;
  private readonly corruptTotal: Counter;

  constructor(registry: Registry) {
    this.acceptedTotal = new Counter({
      name: 'ep_ingest_readings_accepted_total',
      help: 'Readings answered as stored; duplicate="true" for a repeat of a reading stored earlier (same device and seq, or timestamp): not stored again',
      labelNames: ['route', 'duplicate'] as const,
      registers: [registry],
    });
    this.rejectedTotal = new Counter({
      name: 'ep_ingest_readings_rejected_total',
      help: 'Readings not stored, by reason: the error code they were answered with (validation_failed, forbidden, unauthorized, rate_limited, unavailable, …)',
      labelNames: ['route', 'reason'] as const,
      registers: [registry],
    });
    this.corruptTotal = new Counter({
      name: 'ep_ingest_dedupe_corrupt_total',
      help: "Readings refused because their device's dedupe state in Redis does not parse (answered 500 internal_error, stored_before unknown); anything above 0 needs an operator",
      registers: [registry],
    });
  }

  /** Counts readings whose device's dedupe state was unreadable (they are counted as rejected too). */
  corrupt(n = 1) {
    if (n > 0) this.corruptTotal.inc(n);
  }

  /** Counts `n` readings answered as stored. */
  accept(route: WriteRoute, duplicate: boolean, n = 1) {
    if (n === 0) return;
    this.accepted += n;
    this.acceptedTotal.inc({ route, duplicate: String(duplicate) }, n);
  }

  reject(route: WriteRoute, reason: ErrorCode, n = 1) {
    if (n === 0) return;
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + n;
    this.rejectedTotal.inc({ route, reason }, n);
  }

  /** Counts a batch's results: once per outcome, not per reading (a label lookup each is not free). */
  countBatch(results: readonly BatchItemResult[]) {
    let stored = 0;
    let repeats = 0;
    const rejected = new Map<ErrorCode, number>();
    for (const r of results) {
      if (r.status === 'rejected') rejected.set(r.error, (rejected.get(r.error) ?? 0) + 1);
      else if (r.duplicate) repeats += 1;
      else stored += 1;
    }
    this.accept('/readings/batch', false, stored);
    this.accept('/readings/batch', true, repeats);
    for (const [reason, n] of rejected) this.reject('/readings/batch', reason, n);
  }

  get rejected() {
    return Object.values(this.rejectedByReason).reduce((a, b) => a + (b ?? 0), 0);
  }

  snapshot() {
    return { accepted: this.accepted, rejected: this.rejected, rejected_by_reason: { ...this.rejectedByReason } };
  }
}

/**
 * The code a refused POST /readings was answered with, read from the error body it sent (every
 * error of both services has the shared body), or from its status when the body is not ours.
 */
function rejectionCode(status: number, payload: unknown): ErrorCode {
  if (typeof payload === 'string') {
    try {
      const code = ErrorCodeSchema.safeParse((JSON.parse(payload) as { error?: unknown }).error);
      if (code.success) return code.data;
    } catch {
      // not JSON: fall back on the status
    }
  }
  return codeOfStatus(status);
}

declare module 'fastify' {
  interface FastifyInstance {
    counters: ReadingCounters;
  }
}

/** Counts readings by outcome; POST /readings refusals are counted here, by the code they were answered with. */
export const readingCountersPlugin = fp(
  async (app) => {
    const counters = new ReadingCounters(app.metrics.registry);
    app.decorate('counters', counters);
    // A callback hook (never waits): no promise per request.
    app.addHook('onSend', (request, reply, payload, done) => {
      // Accepted readings are counted by the handler, which knows whether they were repeats.
      if (request.method === 'POST' && request.routeOptions.url === '/readings' && reply.statusCode >= 400) {
        counters.reject('/readings', rejectionCode(reply.statusCode, payload));
      }
      done(null, payload);
    });
  },
  { name: 'ep-reading-counters', fastify: '5.x', dependencies: ['ep-metrics'] },
);
