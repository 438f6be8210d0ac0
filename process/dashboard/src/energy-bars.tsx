import { useEffect, useState } from 'preact/hooks';
import { formatWattHours as wattHours } from '@energy-pipeline/client';
import { getJson } from './live.js';

interface Point {
  start: string;
  period?: string;
  energy_wh: number;
}

type Bucket = 'minute' | 'hour' | 'day';
const SPAN: Record<Bucket, { ms: number; title: string; label: (p: Point) => string }> = {
  minute: { ms: 60 * 60_000, title: 'Last hour, per minute', label: (p) => p.start.slice(11, 16) },
  hour: { ms: 24 * 3_600_000, title: 'Last 24 hours, per hour', label: (p) => `${p.start.slice(11, 13)}h` },
  day: { ms: 14 * 86_400_000, title: 'Last 14 days, per local day', label: (p) => p.period ?? p.start.slice(0, 10) },
};

/**
 * Energy per minute, hour and local day as bars: the finished buckets from the series API (read
 * again every minute), the current one from the live figures.
 */
export function EnergyBars({ siteId, bucket, current }: { siteId: string; bucket: Bucket; current: Point | null }) {
  const [points, setPoints] = useState<Point[]>([]);
  useEffect(() => {
    let stopped = false;
    const load = () => {
      const from = new Date(Date.now() - SPAN[bucket].ms).toISOString();
      getJson<{ points: Point[] }>(`/sites/${encodeURIComponent(siteId)}/series?bucket=${bucket}&from=${encodeURIComponent(from)}`)
        .then((s) => !stopped && setPoints(s.points))
        .catch(() => {});
    };
    load();
    const timer = setInterval(load, 60_000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [siteId, bucket]);
  const shown = current ? [...points.filter((p) => p.start !== current.start), current] : points;
  const max = Math.max(1e-9, ...shown.map((p) => Math.abs(p.energy_wh)));
  return (
    <figure class="bars" data-testid={`energy-${bucket}`}>
      <figcaption>
        {SPAN[bucket].title} <span class="muted">{current ? `now ${wattHours(current.energy_wh)}` : ''}</span>
      </figcaption>
      <div class="bar-row">
        {shown.map((p) => (
          <div
            key={p.start}
            class={`bar ${p.energy_wh < 0 ? 'neg' : ''} ${p === current ? 'current' : ''}`}
            style={{ height: `${Math.max(2, (Math.abs(p.energy_wh) / max) * 100)}%` }}
            title={`${SPAN[bucket].label(p)}: ${wattHours(p.energy_wh)}`}
          />
        ))}
      </div>
    </figure>
  );
}
