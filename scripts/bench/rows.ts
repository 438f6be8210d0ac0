import type { RowSpec } from './report.js';

/**
 * The table, in order. Rates are the targets' terms; the "CPU" rows beside them divide the CPU
 * time each server process spent per reading (from /proc), which a machine shared with other
 * work disturbs far less than a rate: read them together. A row divides one measurement by its baseline, both taken in the same
 * run; the suites (scripts/bench/suites/) record the facts named here. To add a row: record the
 * facts in a suite with `ctx.record(name, value)` once per round, then describe the row here.
 */
export const ROWS: RowSpec[] = [
  {
    id: 'ingest.single',
    title: 'ingest POST /readings vs one-XADD ts-rest route',
    unit: 'req/s',
    measured: 'ingest.single.rps',
    baseline: 'baseline.single.rps',
    target: { op: '>=', value: 0.8 },
  },
  {
    id: 'ingest.single.cpu',
    title: "  CPU: ingest's per request vs the route's",
    unit: 'µs/req',
    measured: 'ingest.single.cpu',
    baseline: 'baseline.single.cpu',
    target: null,
  },
  {
    id: 'ingest.batch.influx',
    title: 'ingest POST /readings/batch ×500 vs InfluxDB writes ×500',
    unit: 'readings/s',
    measured: 'ingest.batch.rps',
    baseline: 'influx.batch.rps',
    target: { op: '>=', value: 0.5 },
    needs: 'influxd (InfluxDB 1.x) is not on the PATH',
  },
  {
    id: 'ingest.batch.influx.cpu',
    title: "  CPU: ingest's per reading vs influxd's per point",
    unit: 'µs/reading',
    measured: 'ingest.batch.cpu',
    baseline: 'influx.batch.cpu',
    target: null,
    needs: 'influxd (InfluxDB 1.x) is not on the PATH',
  },
  {
    id: 'ingest.batch.xadd',
    title: 'ingest POST /readings/batch ×500 vs pipelined XADD ×500',
    unit: 'readings/s',
    measured: 'ingest.batch.rps',
    baseline: 'xadd.batch.rps',
    target: null,
  },
  {
    id: 'ingest.batch.reading-id',
    title: 'ingest batch ×500 with reading_id (SDK) vs without',
    unit: 'readings/s',
    measured: 'ingest.batch-ids.rps',
    baseline: 'ingest.batch.rps',
    target: null,
  },
  {
    id: 'process.drain',
    title: 'processor drain vs XREADGROUP + XACK drain',
    unit: 'readings/s',
    measured: 'process.drain.rps',
    baseline: 'plain.drain.rps',
    target: { op: '>=', value: 0.5 },
  },
  {
    id: 'process.drain.cpu',
    title: "  CPU: processor's per reading vs the plain loop's",
    unit: 'µs/reading',
    measured: 'process.drain.cpu',
    baseline: 'plain.drain.cpu',
    target: null,
  },
  {
    id: 'redis.cpu',
    title: 'Redis CPU: batch ingest + apply vs XADD + XREADGROUP + XACK',
    unit: 'µs/reading',
    measured: ['redis.cpu.ingest-batch', 'redis.cpu.apply'],
    baseline: ['redis.cpu.xadd', 'redis.cpu.plain-drain'],
    target: { op: '<=', value: 1.5 },
  },
  {
    id: 'ingest.single.influx',
    title: 'ingest POST /readings vs InfluxDB single-point writes',
    unit: 'req/s',
    measured: 'ingest.single.rps',
    baseline: 'influx.single.rps',
    target: null,
    needs: 'influxd (InfluxDB 1.x) is not on the PATH',
  },
];
