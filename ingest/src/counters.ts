import { Counter, type Registry } from 'prom-client';

export type WriteRoute = '/readings' | '/readings/batch';

/**
 * What ingest did with readings, counted twice over: as the JSON GET /metrics has always shown
 * (per instance, since start) and as Prometheus counters. Readings answered one by one count on
 * both routes; a batch refused whole (401, 413, 429, 503 before its handler ran…) counts no
 * readings, since they were never read: see http_request_duration_seconds for those requests.
 */
export class ReadingCounters {
  accepted = 0;
  readonly rejectedByReason: Record<string, number> = {};
  private readonly acceptedTotal: Counter<'route' | 'duplicate'>;
  private readonly rejectedTotal: Counter<'route' | 'reason'>;

  constructor(registry: Registry) {
    this.acceptedTotal = new Counter({
      name: 'ep_ingest_readings_accepted_total',
      help: 'Readings answered as stored; duplicate="true" for a repeated reading_id (not stored again)',
      labelNames: ['route', 'duplicate'] as const,
      registers: [registry],
    });
    this.rejectedTotal = new Counter({
      name: 'ep_ingest_readings_rejected_total',
      help: 'Readings not stored, by reason (invalid, forbidden, unauthorized, rate_limited, unavailable, …)',
      labelNames: ['route', 'reason'] as const,
      registers: [registry],
    });
  }

  accept(route: WriteRoute, duplicate: boolean) {
    this.accepted += 1;
    this.acceptedTotal.inc({ route, duplicate: String(duplicate) });
  }

  reject(route: WriteRoute, reason: string) {
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
    this.rejectedTotal.inc({ route, reason });
  }

  get rejected() {
    return Object.values(this.rejectedByReason).reduce((a, b) => a + b, 0);
  }

  snapshot() {
    return { accepted: this.accepted, rejected: this.rejected, rejected_by_reason: { ...this.rejectedByReason } };
  }
}

const reasons: Record<number, string> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  409: 'out_of_order',
  413: 'too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
};

/** Why a reading was not accepted, from the status it was answered with. */
export function rejectionReason(status: number): string {
  return reasons[status] ?? (status >= 500 ? 'error' : 'other');
}
