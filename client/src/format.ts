/**
 * How the live views (the CLI's `watch`, the processor's dashboard) write figures for people.
 * Exported for SDK users who show the same figures.
 */

/** `1.23 kW`, `512 W`, `-3.40 kW` (negative: generation or export). */
export function formatWatts(w: number | null | undefined): string {
  if (w === null || w === undefined || Number.isNaN(w)) return '–';
  const a = Math.abs(w);
  if (a >= 1e6) return `${(w / 1e6).toFixed(2)} MW`;
  if (a >= 1e3) return `${(w / 1e3).toFixed(2)} kW`;
  return `${w.toFixed(a < 10 ? 1 : 0)} W`;
}

/** `12.40 kWh`, `830 Wh`, `4.52 Wh`. */
export function formatWattHours(wh: number | null | undefined): string {
  if (wh === null || wh === undefined || Number.isNaN(wh)) return '–';
  const a = Math.abs(wh);
  if (a >= 1e6) return `${(wh / 1e6).toFixed(2)} MWh`;
  if (a >= 1e3) return `${(wh / 1e3).toFixed(2)} kWh`;
  return `${wh.toFixed(a < 10 ? 2 : 0)} Wh`;
}

/** `5 s ago`, `3 min ago`, `2 h ago`, `4 d ago`; `never` for null. */
export function formatAgo(iso: string | null, nowMs = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129_600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

/** A duration in seconds: `10 s`, `5 min`, `1 h`; `–` for null. */
export function formatSeconds(s: number | null): string {
  if (s === null) return '–';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** `12.0/s`; `–` for null (no rate yet). */
export const formatRate = (r: number | null) => (r === null ? '–' : `${r.toFixed(1)}/s`);
