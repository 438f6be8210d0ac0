import { type Command, Option } from 'commander';
import type { EnergyPipelineClient } from '../client.js';
import { EnergyPipelineError } from '../errors.js';
import type { ReadingInput } from '../readings.js';
import { type CliIo, EXIT, UsageError } from './io.js';
import { addCommonOptions, type CommonValues, makeClient, numberParser, parseDuration } from './options.js';
import { printJson } from './output.js';
import { buildFleet, seededRandom } from './profiles.js';
import { startProgress } from './progress.js';
import { type LatencySummary, RateLimiter, summarizeLatencies } from './stats.js';

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

interface SimulateValues extends CommonValues, Omit<Plan, 'intervalMs' | 'durationMs'> {
  interval?: number;
  duration?: number;
}

export interface SimulationSummary {
  devices: number;
  readings: number;
  accepted: number;
  /** Refused, or not delivered within the retry budget; `unconfirmed` ones are not counted here. */
  rejected: number;
  rejected_by_reason: Record<string, number>;
  /**
   * Readings that may be stored from an attempt whose answer was lost, which the server could no
   * longer check when they were resent (`out_of_order` with `stored_before: unknown`): not refusals.
   */
  unconfirmed: number;
  /** For `conflict` rejections: how many named each field that differs from the reading stored under its identity. */
  conflict_fields: Record<string, number>;
  elapsed_s: number;
  readings_per_s: number;
  latency: LatencySummary;
  /** The error that stopped the run early (bad API key, refused request), if any. */
  stopped_by?: string;
  /** Stopped by Ctrl-C before the end. */
  interrupted?: boolean;
}

const int = (min: number) => numberParser({ min, integer: true });

export function defineSimulate(program: Command, io: CliIo, done: (code: number) => void) {
  const command = program
    .command('simulate')
    .summary('simulate a fleet of solar inverters and household meters')
    .description(
      `Simulates a fleet of sites, each with one PV inverter (negative power along a bell curve over the
day, with drifting clouds) and household meters (morning and evening peaks), and sends their
readings. Live by default: every device reports each --interval for --duration. With --backfill,
the readings of the last --duration are generated at once and sent as fast as --rate allows.
Draws a progress bar with an ETA on a terminal; prints accepted and rejected counts and request
latency percentiles at the end. Readings that may already be stored by an attempt whose answer was
lost, too old for the server to check when resent, are counted apart ("may already be stored"),
not as rejected. Ctrl-C stops early and still prints the summary.`,
    )
    .addOption(new Option('--sites <n>', 'sites').argParser(int(1)).default(2))
    .addOption(new Option('--devices <n>', 'devices per site, the first an inverter').argParser(int(1)).default(5))
    .addOption(new Option('--interval <duration>', 'time between two readings of one device (default 10s; 5m with --backfill)').argParser(parseDuration))
    .addOption(new Option('--duration <duration>', 'how long to simulate (default 1m; 1d with --backfill)').argParser(parseDuration))
    .option('--backfill', 'generate the past --duration now instead of running in real time', false)
    .addOption(new Option('--rate <n>', 'most readings per second sent').argParser(numberParser({ min: 0.001 })).default(1000))
    .addOption(new Option('--batch-size <n>', 'readings per request').argParser(int(1)).default(500))
    .addOption(new Option('--concurrency <n>', 'requests in flight at once').argParser(int(1)).default(2))
    .addOption(new Option('--seed <n>', 'random seed, for a repeatable fleet').argParser(numberParser({ integer: true })).default(1));
  addCommonOptions(command).action(async (values: SimulateValues) => {
    const intervalMs = values.interval ?? (values.backfill ? 300_000 : 10_000);
    const durationMs = values.duration ?? (values.backfill ? 86_400_000 : 60_000);
    if (intervalMs <= 0) throw new UsageError('--interval must be more than 0');
    if (durationMs < intervalMs) throw new UsageError('--duration must be at least one --interval');
    const p: Plan = { ...values, intervalMs, durationMs };
    const client = makeClient(values, io, { batchSize: p.batchSize });
    const summary = await runSimulation(p, client, io);
    if (values.json) printJson(io, summary);
    else printSummary(io, p, summary);
    if (summary.interrupted) return done(EXIT.interrupted);
    if (summary.stopped_by || (summary.rejected > 0 && summary.accepted === 0)) return done(EXIT.failed);
    done(summary.rejected > 0 ? EXIT.partial : EXIT.ok);
  });
  return command;
}

async function runSimulation(p: Plan, client: EnergyPipelineClient, io: CliIo): Promise<SimulationSummary> {
  const fleet = buildFleet(p.sites, p.devices, seededRandom(p.seed));
  const steps = Math.floor(p.durationMs / p.intervalMs);
  const total = steps * fleet.length;
  const tally = { sent: 0, accepted: 0, rejected: 0, unconfirmed: 0, byReason: {} as Record<string, number>, conflictFields: {} as Record<string, number> };
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
      tally.unconfirmed += result.unconfirmed;
      for (const r of result.results) {
        if (r.status !== 'rejected') continue;
        reject(r.error, 1);
        if (r.error !== 'conflict') continue;
        for (const field of new Set((r.issues ?? []).map((i) => i.path))) tally.conflictFields[field] = (tally.conflictFields[field] ?? 0) + 1;
      }
    } catch (err) {
      if (!(err instanceof EnergyPipelineError)) throw err;
      stoppedBy ??= err; // concerns every request alike (auth, a refused request): stop
      reject(err.kind, batch.length);
    }
  };
  const dispatch = async (batch: ReadingInput[]) => {
    while (inFlight.size >= p.concurrency) await Promise.race(inFlight);
    await limiter.take(batch.length);
    tally.sent += batch.length;
    const sending: Promise<void> = sendBatch(batch).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  };

  const progress = startProgress(io, () => ({
    done: tally.accepted + tally.rejected + tally.unconfirmed,
    total,
    detail: `${tally.accepted} accepted, ${tally.rejected} rejected${tally.unconfirmed > 0 ? `, ${tally.unconfirmed} may already be stored` : ''}`,
  }));
  let interrupted = false;
  const stopOnInterrupt = io.onInterrupt?.(() => {
    interrupted = true;
  });
  try {
    const first = p.backfill ? startedAt - p.durationMs : startedAt;
    let pending: ReadingInput[] = [];
    for (let step = 0; step < steps && !stoppedBy && !interrupted; step++) {
      const due = first + step * p.intervalMs;
      if (!p.backfill) await waitUntil(due, () => interrupted);
      if (interrupted) break;
      const at = new Date(p.backfill ? due : Date.now());
      for (const device of fleet) {
        pending.push({ site_id: device.siteId, device_id: device.deviceId, power_reading: device.powerAt(at), timestamp: at.toISOString() });
      }
      // Live readings go out on their tick; backfilled ones wait to fill a batch.
      while (pending.length > 0 && !interrupted && (pending.length >= p.batchSize || !p.backfill || step === steps - 1)) {
        await dispatch(pending.slice(0, p.batchSize));
        pending = pending.slice(p.batchSize);
      }
    }
    await Promise.all(inFlight);
  } finally {
    progress.stop();
    stopOnInterrupt?.();
  }
  const elapsedS = (Date.now() - startedAt) / 1000;
  return {
    devices: fleet.length,
    readings: tally.sent,
    accepted: tally.accepted,
    rejected: tally.rejected,
    rejected_by_reason: tally.byReason,
    unconfirmed: tally.unconfirmed,
    conflict_fields: tally.conflictFields,
    elapsed_s: Math.round(elapsedS * 100) / 100,
    readings_per_s: Math.round(tally.sent / Math.max(elapsedS, 0.001)),
    latency: summarizeLatencies(latencies),
    ...(stoppedBy ? { stopped_by: `${stoppedBy.kind}: ${stoppedBy.message}` } : {}),
    ...(interrupted ? { interrupted: true } : {}),
  };
}

/** Sleeps until `at` (epoch ms), waking early once `stop()` holds. */
async function waitUntil(at: number, stop: () => boolean) {
  while (!stop() && Date.now() < at) await new Promise((r) => setTimeout(r, Math.min(100, at - Date.now())));
}

function printSummary(io: CliIo, p: Plan, s: SimulationSummary) {
  const mode = p.backfill ? 'backfilled' : 'live';
  const l = s.latency;
  const lines = [
    `Simulated ${p.sites} sites × ${p.devices} devices (${s.devices} devices), a reading every ${p.intervalMs / 1000} s for ${p.durationMs / 1000} s (${mode})`,
    `Sent ${s.readings} readings in ${s.elapsed_s} s (${s.readings_per_s}/s): ${s.accepted} accepted, ${s.rejected} rejected`,
    `Requests: ${l.requests}; latency p50 ${l.p50_ms} ms, p95 ${l.p95_ms} ms, p99 ${l.p99_ms} ms, max ${l.max_ms} ms`,
  ];
  if (s.unconfirmed > 0) lines.push(`${s.unconfirmed} may already be stored (answer lost earlier; too old to check); not counted as rejected`);
  const reasons = Object.entries(s.rejected_by_reason);
  if (reasons.length > 0) lines.push(`Rejected by reason: ${reasons.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const conflicts = s.rejected_by_reason['conflict'] ?? 0;
  if (conflicts > 0) {
    const fields = Object.entries(s.conflict_fields).map(([field, n]) => `${field} ${n}`);
    lines.push(`Conflicts: ${conflicts} differ from the reading already stored under their identity${fields.length > 0 ? ` (differing: ${fields.join(', ')})` : ''}`);
  }
  if (s.rejected_by_reason['window_full']) lines.push('window_full: the device sent more readings without seq in 5 minutes than the server remembers; number them with seq');
  if (s.stopped_by) lines.push(`Stopped early: ${s.stopped_by}`);
  if (s.interrupted) lines.push('Interrupted: stopped early by Ctrl-C');
  io.stdout(`${lines.join('\n')}\n`);
}
