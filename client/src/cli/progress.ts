import type { CliIo } from './io.js';

export interface ProgressState {
  done: number;
  total: number;
  /** Shown after the counts, e.g. "812 accepted, 0 rejected". */
  detail: string;
}

/** `1:02:03` or `2:03`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

/**
 * One progress line: bar, percentage, counts, rate and the time left at the rate so far.
 * `[=========>          ]  45% 1234/2742 · 812 accepted, 0 rejected · 810/s · ETA 0:02`
 */
export function progressLine(state: ProgressState, elapsedS: number, width = 20): string {
  const ratio = state.total > 0 ? Math.min(1, state.done / state.total) : 1;
  const filled = Math.floor(ratio * width);
  const bar = ratio >= 1 ? '='.repeat(width) : `${'='.repeat(filled)}>`.padEnd(width, ' ');
  const rate = elapsedS > 0 ? state.done / elapsedS : 0;
  const eta = state.done > 0 && rate > 0 ? formatDuration((state.total - state.done) / rate) : '--:--';
  const pct = String(Math.floor(ratio * 100)).padStart(3);
  return `[${bar}] ${pct}% ${state.done}/${state.total} · ${state.detail} · ${Math.round(rate)}/s · ETA ${eta}`;
}

/**
 * Redraws a progress line in place on stderr, only on a terminal and only once a run has lasted
 * a second (a short run prints its summary alone). `stop()` clears the line.
 */
export function startProgress(io: CliIo, state: () => ProgressState, { intervalMs = 250, afterMs = 1000 } = {}) {
  if (!io.isTTY) return { stop() {} };
  const startedAt = Date.now();
  let drawn = false;
  const draw = () => {
    const elapsedMs = Date.now() - startedAt;
    if (elapsedMs < afterMs) return;
    let line = progressLine(state(), elapsedMs / 1000);
    if (io.columns && line.length >= io.columns) line = line.slice(0, io.columns - 1);
    io.stderr(`\r\x1b[2K${line}`);
    drawn = true;
  };
  const timer = setInterval(draw, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      if (drawn) io.stderr('\r\x1b[2K');
    },
  };
}
