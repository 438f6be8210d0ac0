import type { FastifyInstance } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import type { ProcessConfig } from '../config/config.js';
import { readShardedStats, type StreamStats } from '../queries/stream-stats.js';
import type { ProcessWorker } from '../worker/worker.js';
import fp from 'fastify-plugin';

/**
 * The processor's Prometheus metrics: the shared ones (server-kit/src/metrics.ts) plus the
 * stream and consumer-group figures of every shard (label `shard`), read from Redis on scrape (one
 * read per scrape, shared by every gauge). When Redis cannot answer, ep_redis_up is 0 and the
 * Redis-backed gauges are NaN for that scrape rather than stale numbers.
 */
export const processMetricsPlugin = fp<{ config: ProcessConfig }>(async (app, { config }) => installProcessMetrics(app, config), {
  name: 'ep-process-metrics',
  fastify: '5.x',
  dependencies: ['ep-metrics', 'ep-process-store', 'ep-worker'],
});

function installProcessMetrics(app: FastifyInstance, config: ProcessConfig) {
  const { registry } = app.metrics;
  const { redis } = app.processStore;
  const { worker } = app;
  const { streams } = config.redis;
  const shardLabel = streams.map((_, i) => ({ shard: String(i) }));

  let inFlight: Promise<StreamStats[] | null> | null = null;
  // Every collect() of one scrape starts in the same tick, so they share one read.
  const stats = () => {
    inFlight ??= readShardedStats(redis, streams, config.consumer.group, config.consumer.stream)
      .then((r) => r.shards)
      .catch(() => null)
      .finally(() => setImmediate(() => (inFlight = null)));
    return inFlight;
  };
  const gauge = (name: string, help: string, value: (s: StreamStats) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['shard'] as const,
      registers: [registry],
      async collect() {
        const shards = await stats();
        // NaN, Prometheus's "no value": a stale or made-up 0 would read as "all caught up".
        shardLabel.forEach((labels, i) => {
          this.set(labels, (shards ? value(shards[i]!) : null) ?? Number.NaN);
        });
      },
    });

  new Gauge({
    name: 'ep_redis_up',
    help: '1 when this scrape could read the streams from Redis, else 0',
    registers: [registry],
    async collect() {
      this.set((await stats()) ? 1 : 0);
    },
  });
  gauge('ep_stream_length', 'Entries in the shard\'s stream (XLEN)', (s) => s.stream.length);
  gauge('ep_consumer_group_lag', 'Entries of the shard not yet delivered to the consumer group (NaN when Redis cannot tell)', (s) => s.group.lag);
  gauge('ep_consumer_group_pending', 'Entries of the shard delivered to some consumer of the group and not yet acknowledged', (s) => s.group.pending);
  new Gauge({
    name: 'ep_consumer_pending',
    help: 'Entries pending on each consumer of the group, per shard',
    labelNames: ['consumer', 'shard'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      (await stats())?.forEach((s, i) => {
        for (const c of s.group.consumers) this.set({ consumer: c.name, shard: String(i) }, c.pending);
      });
    },
  });
  new Gauge({
    name: 'ep_consumer_last_progress_timestamp_seconds',
    help: 'Unix time this consumer last applied or dead-lettered entries of the shard (or started); old while it holds pending entries: stalled',
    labelNames: ['consumer', 'shard'] as const,
    registers: [registry],
    collect() {
      // Labelled like ep_consumer_pending, so that an alert can join the two on consumer and shard.
      for (const shard of config.shards) {
        const last = worker.lastProgress(shard);
        if (last) this.set({ consumer: config.consumer.name, shard: String(shard) }, last.getTime() / 1000);
      }
    },
  });
  const total = (name: string, help: string, value: (s: StreamStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['shard'] as const,
      registers: [registry],
      async collect() {
        const shards = await stats();
        if (!shards) return;
        this.reset();
        shards.forEach((s, i) => {
          this.inc(shardLabel[i]!, value(s));
        });
      },
    });
  total('ep_group_readings_applied_total', 'Readings of the shard applied to the aggregates by any consumer of the group', (s) => s.totals.applied);
  total('ep_group_entries_invalid_total', 'Entries or readings of the shard that failed validation, by any consumer of the group', (s) => s.totals.validation_failed);
  total('ep_group_entries_dead_lettered_total', 'Entries or readings of the shard moved to its dead-letter stream', (s) => s.totals.dead_lettered);
  gauge('ep_dead_letters', "Entries waiting in the shard's dead-letter stream", (s) => s.deadLetters.length);
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
    name: 'ep_consumer_readings_applied_total',
    help: 'Readings this process applied since it started',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(worker.status().applied);
    },
  });
}
