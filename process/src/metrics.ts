import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Counter, Gauge } from 'prom-client';
import { installMetrics } from '@energy-pipeline/contract/server';
import type { ConsumerConfig } from './config.js';
import { readStreamStats } from './stream-stats.js';
import type { ProcessWorker } from './worker.js';

type Stats = Awaited<ReturnType<typeof readStreamStats>>;

/**
 * The processor's Prometheus metrics: the shared ones (contract/src/server/metrics.ts) plus the
 * stream and consumer-group figures, read from Redis on scrape (one readStreamStats per scrape,
 * shared by every gauge). When Redis cannot answer, ep_redis_up is 0 and the Redis-backed
 * gauges are NaN for that scrape rather than stale numbers.
 */
export function installProcessMetrics(app: FastifyInstance, redis: Redis, consumer: ConsumerConfig, worker: ProcessWorker) {
  const { registry, instrumentRedis } = installMetrics(app);
  instrumentRedis(redis, 'api');
  instrumentRedis(worker.commands, 'worker');

  let inFlight: Promise<Stats | null> | null = null;
  // Every collect() of one scrape starts in the same tick, so they share one read.
  const stats = () => {
    inFlight ??= readStreamStats(redis, consumer)
      .catch(() => null)
      .finally(() => setImmediate(() => (inFlight = null)));
    return inFlight;
  };
  const gauge = (name: string, help: string, value: (s: Stats) => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const s = await stats();
        // NaN, Prometheus's "no value": a stale or made-up 0 would read as "all caught up".
        this.set((s ? value(s) : null) ?? Number.NaN);
      },
    });

  new Gauge({
    name: 'ep_redis_up',
    help: '1 when this scrape could read the stream from Redis, else 0',
    registers: [registry],
    async collect() {
      this.set((await stats()) ? 1 : 0);
    },
  });
  gauge('ep_stream_length', 'Entries in the stream (XLEN)', (s) => s.stream.length);
  gauge('ep_consumer_group_lag', 'Entries not yet delivered to the consumer group (NaN when Redis cannot tell)', (s) => s.group.lag);
  gauge('ep_consumer_group_pending', 'Entries delivered to some consumer of the group and not yet acknowledged', (s) => s.group.pending);
  new Gauge({
    name: 'ep_consumer_pending',
    help: 'Entries pending on each consumer of the group',
    labelNames: ['consumer'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const c of (await stats())?.group.consumers ?? []) this.set({ consumer: c.name }, c.pending);
    },
  });
  new Gauge({
    name: 'ep_consumer_last_progress_timestamp_seconds',
    help: 'Unix time this consumer last applied or dead-lettered entries (or started); old while it holds pending entries: stalled',
    labelNames: ['consumer'] as const,
    registers: [registry],
    collect() {
      // Labelled like ep_consumer_pending, so that an alert can join the two on the consumer.
      this.set({ consumer: consumer.name }, worker.status().lastProgress.getTime() / 1000);
    },
  });
  const total = (name: string, help: string, value: (s: Stats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      async collect() {
        const s = await stats();
        if (!s) return;
        this.reset();
        this.inc(value(s));
      },
    });
  total('ep_group_entries_processed_total', 'Entries applied to the aggregates by any consumer of the group', (s) => s.totals.total);
  total('ep_group_entries_invalid_total', 'Entries that failed validation, by any consumer of the group', (s) => s.totals.invalid);
  total('ep_group_entries_dead_lettered_total', 'Entries moved to the dead-letter stream by any consumer of the group', (s) => s.totals.dead_lettered);
  gauge('ep_dead_letters', 'Entries waiting in the dead-letter stream', (s) => s.deadLetters.length);
  const own = (name: string, help: string, value: (s: ReturnType<ProcessWorker['status']>) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value(worker.status()));
      },
    });
  own('ep_stream_entries_trimmed_total', 'Stream entries this process trimmed', (s) => s.trimmed);
  own('ep_consumer_watchdog_trips_total', 'Blocking reads this process abandoned because Redis did not answer in time', (s) => s.watchdogTrips);
  new Counter({
    name: 'ep_consumer_entries_applied_total',
    help: 'Entries this process applied since it started',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(worker.status().processed);
    },
  });
}
