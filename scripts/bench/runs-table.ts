/**
 * Several `npm run bench -- --json` runs as one Markdown table for docs/performance.md: each
 * row's ratio per run, the spread across runs, and the raw medians.
 *
 *   npx tsx scripts/bench/runs-table.ts run-1.json run-2.json run-3.json
 */
import { readFileSync } from 'node:fs';
import { spread, type BenchRun } from './report.js';

const runs = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchRun);
if (runs.length === 0) throw new Error('usage: runs-table.ts RUN.json…');

const num = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const span = (xs: number[]) => {
  const s = spread(xs);
  return xs.length > 1 ? `${num(s.min)}–${num(s.max)}` : num(s.median);
};
const lines = runs[0]!.rows.map((first) => {
  const rows = runs.map((r) => r.rows.find((x) => x.id === first.id));
  const ratios = rows.flatMap((r) => (r?.ratio ? [r.ratio.median] : []));
  if (ratios.length === 0) return `| ${first.title.trim()} | ${first.unit} | — | — | — | — | skipped: ${first.skipped} |`;
  const s = spread(ratios);
  const target = first.target ? `${first.target.op === '>=' ? '≥' : '≤'} ${first.target.value}` : 'ref.';
  const measured = rows.flatMap((r) => (r?.measured ? [r.measured.median] : []));
  const baseline = rows.flatMap((r) => (r?.baseline ? [r.baseline.median] : []));
  return `| ${first.title.trim()} | ${first.unit} | ${span(measured)} | ${span(baseline)} | ${ratios.map((x) => x.toFixed(2)).join(', ')} | **${s.median.toFixed(2)}** (${s.min.toFixed(2)}–${s.max.toFixed(2)}) | ${target} |`;
});
console.log(
  [
    '| row | unit | measured (range over runs) | baseline (range over runs) | ratio per run | ratio: median (range) | target |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
    ...lines,
  ].join('\n'),
);
console.log(
  `\n${runs.length} run(s): ${runs.map((r) => `${r.startedAt.slice(0, 16)} ${r.git.commit.slice(0, 8)}${r.git.dirty ? '+' : ''} (load ${Number(r.machine.loadAverage1mBefore).toFixed(1)}→${Number(r.machine.loadAverage1mAfter).toFixed(1)})`).join('; ')}`,
);
