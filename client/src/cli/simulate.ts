import { parseArgs } from 'node:util';
import type { EnergyPipelineClient } from '../client.js';
import { EnergyPipelineError } from '../errors.js';
import type { ReadingInput } from '../readings.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { commonHelp, commonOptions, makeClient, parseDuration, parseNumber } from './options.js';
import { printJson } from './output.js';
import { buildFleet, seededRandom } from './profiles.js';
import { type LatencySummary, RateLimiter, summarizeLatencies } from './stats.js';

export const simulateHelp = `Usage: energy-pipeline simulate [options]

Simulates a fleet of sites, each with one PV inverter (negative power along a bell curve over the
day, with drifting clouds) and household meters (morning and evening peaks), and sends their
readings. Live by default: every device reports each --interval for --duration. With --backfill,
the readings of the last --duration are generated at once and sent as fast as --rate allows.
Prints accepted and rejected counts and request latency percentiles at the end.

Options:
  --sites N           sites (default 2)
  --devices N         devices per site, the first an inverter (default 5)
  --interval DURATION time between two readings of one device (default 10s; 5m with --backfill)
  --duration DURATION how long to simulate (default 1m; 1d with --backfill)
  --backfill          generate the past --duration now instead of running in real time
  --rate N            most readings per second sent (default 1000)
  --batch-size N      readings per request (default 500)
  --concurrency N     requests in flight at once (default 2)
  --seed N            random seed, for a repeatable fleet (default 1)
${commonHelp}`;

interface Plan {
  sites: number;
  devices: number;
  intervalMs: number;
  durationMs: number;
  backfill: boolean;
  rate: number;
  batchSize: number;
  concurrency: number;
  seed: number;
}

export interface SimulationSummary {
  devices: number;
  readings: number;
  accepted: number;
  rejected: number;
  rejected_by_reason: Record<string, number>;
  elapsed_s: number;
  readings_per_s: number;
  latency: LatencySummary;
  /** The error that stopped the run early (bad API key, refused request), if any. */
  stopped_by?: string;
}

function plan(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...commonOptions,
      sites: { type: 'string', default: '2' },
      devices: { type: 'string', default: '5' },
      interval: { type: 'string' },
      duration: { type: 'string' },
      backfill: { type: 'boolean', default: false },
      rate: { type: 'string', default: '1000' },
      'batch-size': { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '2' },
      seed: { type: 'string', default: '1' },
    },
    strict: true,
  });
  if (values.help) return { help: true as const, values };
  const intervalMs = parseDuration(values.interval ?? (values.backfill ? '5m' : '10s'), 'interval');
  const durationMs = parseDuration(values.duration ?? (values.backfill ? '1d' : '1m'), 'duration');
  if (intervalMs <= 0) throw new UsageError('--interval must be more than 0');
  if (durationMs < intervalMs) throw new UsageError('--duration must be at least one --interval');
  const planned: Plan = {
    sites: parseNumber(values.sites, 'sites', { min: 1, integer: true }),
    devices: parseNumber(values.devices, 'devices', { min: 1, integer: true }),
    intervalMs,
    durationMs,
    backfill: values.backfill,
    rate: parseNumber(values.rate, 'rate', { min: 0.001 }),
    batchSize: parseNumber(values['batch-size'], 'batch-size', { min: 1, integer: true }),
    concurrency: parseNumber(values.concurrency, 'concurrency', { min: 1, integer: true }),
    seed: parseNumber(values.seed, 'seed', { integer: true }),
  };
  return { help: false as const, values, plan: planned };
}

export async function simulate(argv: string[], io: CliIo): Promise<number> {
  const parsed = plan(argv);
  if (parsed.help) {
    io.stdout(simulateHelp);
    return 0;
  }
  const { values, plan: p } = parsed;
  const client = makeClient(values, io, { batchSize: p.batchSize });
  const summary = await runSimulation(p, client, io);
  if (values.json) printJson(io, summary);
  else printSummary(io, p, summary);
  return summary.rejected === 0 && !summary.stopped_by ? 0 : 1;
}

async function runSimulation(p: Plan, client: EnergyPipelineClient, io: CliIo): Promise<SimulationSummary> {
  const fleet = buildFleet(p.sites, p.devices, seededRandom(p.seed));
  const steps = Math.floor(p.durationMs / p.intervalMs);
  const total = steps * fleet.length;
  const tally = { sent: 0, accepted: 0, rejected: 0, byReason: {} as Record<string, number> };
  const latencies: number[] = [];
  const limiter = new RateLimiter(p.rate, Math.max(p.batchSize, p.rate));
  const inFlight = new Set<Promise<void>>();
  let stoppedBy: EnergyPipelineError | undefined;
  const startedAt = Date.now();
  const reject = (reason: string, n: number) => {
    tally.rejected += n;
    tally.byReason[reason] = (tally.byReason[reason] ?? 0) + n;
  };

  const sendBatch = async (batch: ReadingInput[]) => {
    const t0 = performance.now();
    try {
      const result = await client.sendReadings(batch);
      latencies.push(performance.now() - t0);
      tally.accepted += result.accepted;
      for (const r of result.results) if (r.status === 'rejected') reject(r.error, 1);
    } catch (err) {
      if (!(err instanceof EnergyPipelineError)) throw err;
      stoppedBy ??= err; // concerns every request alike (auth, a refused request): stop
      reject(err.code ?? err.kind, batch.length);
    }
  };
  const dispatch = async (batch: ReadingInput[]) => {
    while (inFlight.size >= p.concurrency) await Promise.race(inFlight);
    await limiter.take(batch.length);
    tally.sent += batch.length;
    const sending: Promise<void> = sendBatch(batch).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  };

  const progress = io.isTTY ? startProgress(io, () => ({ ...tally, total, startedAt })) : undefined;
  try {
    const first = p.backfill ? startedAt - p.durationMs : startedAt;
    let pending: ReadingInput[] = [];
    for (let step = 0; step < steps && !stoppedBy; step++) {
      const due = first + step * p.intervalMs;
      if (!p.backfill && due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const at = new Date(p.backfill ? due : Date.now());
      for (const device of fleet) {
        pending.push({ site_id: device.siteId, device_id: device.deviceId, power_reading: device.powerAt(at), timestamp: at.toISOString() });
      }
      // Live readings go out on their tick; backfilled ones wait to fill a batch.
      while (pending.length >= p.batchSize || (!p.backfill && pending.length > 0) || (step === steps - 1 && pending.length > 0)) {
        await dispatch(pending.slice(0, p.batchSize));
        pending = pending.slice(p.batchSize);
      }
    }
    await Promise.all(inFlight);
  } finally {
    progress?.stop();
  }
  const elapsedS = (Date.now() - startedAt) / 1000;
  return {
    devices: fleet.length,
    readings: tally.sent,
    accepted: tally.accepted,
    rejected: tally.rejected,
    rejected_by_reason: tally.byReason,
    elapsed_s: Math.round(elapsedS * 100) / 100,
    readings_per_s: Math.round(tally.sent / Math.max(elapsedS, 0.001)),
    latency: summarizeLatencies(latencies),
    ...(stoppedBy ? { stopped_by: `${stoppedBy.kind}: ${stoppedBy.message}` } : {}),
  };
}

/** A one-line progress display, redrawn in place; only on a terminal, and only after a second. */
function startProgress(io: CliIo, state: () => { sent: number; accepted: number; rejected: number; total: number; startedAt: number }) {
  let drawn = false;
  const draw = () => {
    const s = state();
    const elapsed = (Date.now() - s.startedAt) / 1000;
    if (elapsed < 1) return;
    const ratio = s.total > 0 ? s.sent / s.total : 1;
    const width = 24;
    const bar = '='.repeat(Math.round(ratio * width)).padEnd(width, ' ');
    io.stdout(
      `\r[${bar}] ${Math.floor(ratio * 100)}% ${s.sent}/${s.total} sent, ${s.accepted} accepted, ${s.rejected} rejected, ${Math.round(s.sent / elapsed)}/s `,
    );
    drawn = true;
  };
  const timer = setInterval(draw, 250);
  return {
    stop() {
      clearInterval(timer);
      if (drawn) io.stdout('\r\x1b[2K');
    },
  };
}

function printSummary(io: CliIo, p: Plan, s: SimulationSummary) {
  const mode = p.backfill ? 'backfilled' : 'live';
  const l = s.latency;
  const lines = [
    `Simulated ${p.sites} sites × ${p.devices} devices (${s.devices} devices), a reading every ${p.intervalMs / 1000} s for ${p.durationMs / 1000} s (${mode})`,
    `Sent ${s.readings} readings in ${s.elapsed_s} s (${s.readings_per_s}/s): ${s.accepted} accepted, ${s.rejected} rejected`,
    `Requests: ${l.requests}; latency p50 ${l.p50_ms} ms, p95 ${l.p95_ms} ms, p99 ${l.p99_ms} ms, max ${l.max_ms} ms`,
  ];
  const reasons = Object.entries(s.rejected_by_reason);
  if (reasons.length > 0) lines.push(`Rejected by reason: ${reasons.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (s.stopped_by) lines.push(`Stopped early: ${s.stopped_by}`);
  io.stdout(`${lines.join('\n')}\n`);
}
