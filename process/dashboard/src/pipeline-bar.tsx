import type { PipelineLive } from '@energy-pipeline/client';
import { useState } from 'preact/hooks';
import { formatRate as rate } from '@energy-pipeline/client';
import { useSubscription } from './live.js';

/** The pipeline's health in the header: lag, ingest and apply rates, dead letters (a link to them). */
export function PipelineBar({ onAuth }: { onAuth: (status: number) => void }) {
  const [p, setP] = useState<PipelineLive | null>(null);
  const error = useSubscription((w, signal) => w.pipeline({ signal }), setP, onAuth, []);
  if (!p) return <span class="pipeline muted">{error ? error.message : 'connecting…'}</span>;
  const t = p.totals;
  const lagging = (t.lag ?? 0) > 1000;
  const health = p.redis === 'down' ? 'down' : lagging ? 'behind' : 'ok';
  return (
    <span class="pipeline" data-testid="pipeline">
      <span class={`dot ${health}`} title={`pipeline ${health}`} />
      <span>lag {t.lag ?? '?'}</span>
      <span>pending {t.pending}</span>
      <span>in {rate(t.ingest_entries_per_s)}</span>
      <span>applied {rate(t.applied_readings_per_s)}</span>
      <a href="#/dead-letters" class={t.dead_letters > 0 ? 'warn' : ''} data-testid="dead-letters">
        {t.dead_letters} dead letters
      </a>
    </span>
  );
}
