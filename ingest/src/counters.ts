/** Per-instance counts of what POST /readings answered, for GET /metrics. */
export class ReadingCounters {
  accepted = 0;
  readonly rejectedByReason: Record<string, number> = {};

  reject(reason: string) {
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
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
  413: 'too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
};

/** Why a reading was not accepted, from the status it was answered with. */
export function rejectionReason(status: number): string {
  return reasons[status] ?? (status >= 500 ? 'error' : 'other');
}
