/**
 * The bench's figures and how they are shown: a row is a ratio of two measurements taken in the
 * same run, round by round, against a target where the issue gives one. Pure functions, so the
 * table and JSON are tested without running a benchmark (test/bench/report.test.ts).
 */

/**
 * Named measurements of a run, by round (e.g. `ingest.single.rps`: [5012, 4870]); null where
 * that round's side failed.
 */
export type Facts = Record<string, (number | null)[]>;

export interface Target {
  /** `>=` for rates (higher is better), `<=` for costs. */
  op: '>=' | '<=';
  value: number;
}

/**
 * One line of the table. `measured` and `baseline` name facts; a list of names is summed round
 * by round (e.g. Redis CPU of ingest plus that of the apply step).
 */
export interface RowSpec {
  id: string;
  title: string;
  unit: string;
  measured: string | string[];
  baseline: string | string[];
  target: Target | null;
  /** Shown when a fact is missing, e.g. "influxd is not installed". */
  needs?: string;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

export interface RowResult {
  id: string;
  title: string;
  unit: string;
  target: Target | null;
  measured: Spread | null;
  baseline: Spread | null;
  ratio: Spread | null;
  /** Whether the median ratio meets the target; null without a target or figures. */
  met: boolean | null;
  /** Why the row has no figures. */
  skipped: string | null;
}

export interface BenchRun {
  version: 1;
  startedAt: string;
  git: { commit: string; branch: string; dirty: boolean };
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  rows: RowResult[];
  facts: Facts;
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, rounds: values };
}

/** Round by round, the sum of the named facts; null for a round where any of them is missing. */
function perRound(facts: Facts, names: string | string[]): (number | null)[] {
  const lists = (Array.isArray(names) ? names : [names]).map((n) => facts[n] ?? []);
  const rounds = Math.max(0, ...lists.map((l) => l.length));
  return Array.from({ length: rounds }, (_, i) => {
    const values = lists.map((l) => l[i]);
    return values.every((v) => typeof v === 'number' && Number.isFinite(v)) ? (values as number[]).reduce((a, b) => a + b, 0) : null;
  });
}

/** A row's figures from the facts, pairing measured and baseline round by round (never across rounds). */
export function computeRow(spec: RowSpec, facts: Facts): RowResult {
  const measuredByRound = perRound(facts, spec.measured);
  const baselineByRound = perRound(facts, spec.baseline);
  const pairs = measuredByRound.flatMap((m, i) => {
    const b = baselineByRound[i];
    return m !== null && b !== null && b !== undefined && b > 0 ? [[m, b] as const] : [];
  });
  const base = { id: spec.id, title: spec.title, unit: spec.unit, target: spec.target };
  if (pairs.length === 0) {
    // `needs` says why a baseline is missing when the measured side ran; a suite left out is just not measured.
    const why = measuredByRound.some((m) => m !== null) ? (spec.needs ?? 'not measured') : 'not measured';
    return { ...base, measured: null, baseline: null, ratio: null, met: null, skipped: why };
  }
  const ratio = spread(pairs.map(([m, b]) => m / b));
  const met = spec.target === null ? null : spec.target.op === '>=' ? ratio.median >= spec.target.value : ratio.median <= spec.target.value;
  return { ...base, measured: spread(pairs.map(([m]) => m)), baseline: spread(pairs.map(([, b]) => b)), ratio, met, skipped: null };
}

const num = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const range = (s: Spread) => (s.rounds.length > 1 ? `${s.min.toFixed(2)}–${s.max.toFixed(2)}` : '');

function table(header: string[], lines: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

/** The table `npm run bench` prints: medians over rounds, the ratio's range across rounds. */
export function formatTable(rows: RowResult[]): string {
  const lines = rows.map((r) => {
    if (!r.ratio || !r.measured || !r.baseline) return [r.title, r.unit, '', '', '', '', targetText(r.target), `skipped: ${r.skipped}`];
    const verdict = r.met === null ? '' : r.met ? 'met' : 'NOT met';
    return [r.title, r.unit, num(r.measured.median), num(r.baseline.median), r.ratio.median.toFixed(2), range(r.ratio), targetText(r.target), verdict];
  });
  return table(['row', 'unit', 'measured', 'baseline', 'ratio', 'range', 'target', ''], lines, new Set([2, 3, 4, 5]));
}

const targetText = (t: Target | null) => (t ? `${t.op === '>=' ? '≥' : '≤'} ${t.value}` : 'ref.');

/** Before and after, row by row: the ratios side by side and how far the median moved. */
export function formatComparison(before: BenchRun, after: BenchRun): string {
  const ids = [...new Set([...before.rows.map((r) => r.id), ...after.rows.map((r) => r.id)])];
  const lines = ids.map((id) => {
    const b = before.rows.find((r) => r.id === id);
    const a = after.rows.find((r) => r.id === id);
    const cell = (r: RowResult | undefined) => (r?.ratio ? `${r.ratio.median.toFixed(2)}${r.ratio.rounds.length > 1 ? ` (${range(r.ratio)})` : ''}` : '—');
    const change = b?.ratio && a?.ratio ? `${((a.ratio.median / b.ratio.median - 1) * 100).toFixed(0)}%` : '';
    return [(a ?? b)!.title, cell(b), cell(a), change, targetText((a ?? b)!.target), a?.met === null || !a ? '' : a.met ? 'met' : 'NOT met'];
  });
  const head = `before: ${before.git.commit.slice(0, 10)}${before.git.dirty ? '+dirty' : ''} ${before.startedAt}\nafter:  ${after.git.commit.slice(0, 10)}${after.git.dirty ? '+dirty' : ''} ${after.startedAt}\n`;
  return head + table(['row', 'ratio before', 'ratio after', 'change', 'target', ''], lines, new Set([1, 2, 3]));
}
