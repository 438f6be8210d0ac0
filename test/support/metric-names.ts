/**
 * Which metric names the services export, and which ones a PromQL expression reads: the
 * dashboard and alert tests check the second against the first, so that a renamed or removed
 * metric fails a test instead of leaving a panel empty or an alert silent.
 */
import { parser } from '@prometheus-io/lezer-promql';
import { buildIngestApp, loadIngestConfig } from '@energy-pipeline/ingest';
import { loadProcessConfig } from '@energy-pipeline/process';
import { processApp } from './process-app.js';
import { startRedisServer } from '../../scripts/lib/redis-server.js';

/** Series names a family of `type` stands for in queries (a histogram is queried as _bucket, _sum, _count). */
function seriesNames(name: string, type: string): string[] {
  if (type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

/** Metric names in a Prometheus text exposition: every declared family, samples or not. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name = '', type = ''] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    for (const n of seriesNames(name, type)) names.add(n);
  }
  for (const [, name = ''] of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) names.add(name);
  return names;
}

/**
 * Scrapes both services, as Prometheus would, after some traffic: each built from its config
 * against a private redis-server, with auth off. Returns the names per service.
 */
export async function scrapeServices(): Promise<{ ingest: Set<string>; process: Set<string> }> {
  const redis = await startRedisServer();
  const common = { REDIS_URL: redis.url, LOG_LEVEL: 'silent', AUTH_DISABLED: 'true' };
  const ingest = buildIngestApp(loadIngestConfig(common));
  const processor = processApp(loadProcessConfig({ ...common, CONSUMER_NAME: 'metric-names' }));
  try {
    await Promise.all([ingest.ready(), processor.ready()]);
    const reading = { site_id: 'site-001', device_id: 'device-001', power_reading: 1500.5, timestamp: new Date().toISOString() };
    await ingest.inject({ method: 'POST', url: '/readings', payload: reading });
    await processor.inject({ method: 'GET', url: '/health' });
    const scrape = async (app: typeof ingest) => {
      const res = await app.inject({ method: 'GET', url: '/metrics', headers: { accept: 'text/plain;version=0.0.4' } });
      if (res.statusCode !== 200) throw new Error(`scrape answered ${res.statusCode}: ${res.body}`);
      return exposedNames(res.body);
    };
    return { ingest: await scrape(ingest), process: await scrape(processor) };
  } finally {
    await Promise.all([ingest.close(), processor.close()]);
    await redis.stop();
  }
}

/**
 * The metric names a PromQL expression selects. Throws on a syntax error, and on a selector
 * by `__name__`, whose metric this cannot tell.
 */
export function promqlMetricNames(expr: string): string[] {
  const names: string[] = [];
  const tree = parser.parse(expr);
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        throw new Error(`PromQL syntax error at ${node.from}: …${expr.slice(Math.max(0, node.from - 20), node.from + 20)}…`);
      }
      if (node.name === 'LabelName' && expr.slice(node.from, node.to) === '__name__') {
        throw new Error(`select metrics by name, not by __name__: ${expr}`);
      }
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expr.slice(node.from, node.to));
    },
  });
  return names;
}
