import type { FastifyInstance } from 'fastify';
import type { Command } from 'ioredis';
import type { RedisClient } from './redis.js';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { metricsTextContentTypes } from '@energy-pipeline/contract';

/**
 * True when an Accept header asks for the Prometheus text format more than for JSON: a
 * Prometheus scrape names text/plain or application/openmetrics-text explicitly, while `curl`
 * (`*\/*`), browsers and the SDK do not, and keep getting the JSON body. A tie goes to JSON.
 */
export function wantsPrometheusText(accept: string | undefined): boolean {
  if (!accept) return false;
  let text = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q)) continue;
    if ((metricsTextContentTypes as readonly string[]).includes(type)) text = Math.max(text, q);
    else if (type === 'application/json') json = Math.max(json, q);
  }
  return text > 0 && text > json;
}

export interface ServiceMetrics {
  /** This app's registry: one per app, so that several apps in one process (tests) do not collide. */
  registry: Registry;
  /** Times every command sent on `redis` (pipelined ones too) into redis_command_duration_seconds. */
  instrumentRedis(redis: RedisClient, connection: string): RedisClient;
}

/**
 * Prometheus metrics both services share: default process metrics, request latency by route and
 * status, Redis command latency; and GET /metrics content negotiation. The contract's /metrics
 * handler keeps answering JSON; a scrape that asks for the text format is answered here, before
 * the handler runs.
 */
export function installMetrics(app: FastifyInstance): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // These gauges break the naming rule `promtool check metrics` enforces (_total is for counters);
  // each is the sum of its per-type sibling (nodejs_active_handles{type}, …), which stays.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const redisDuration = new Histogram({
    name: 'redis_command_duration_seconds',
    help: 'Redis command latency from send to reply, by connection, command and outcome',
    labelNames: ['connection', 'command', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  // Callback hooks, not async ones: these run on every request, and a promise each is not free.
  app.addHook('onResponse', (request, reply, done) => {
    // Unmatched URLs share one label: a scan of random paths must not create a series per path.
    const route = request.routeOptions.url ?? 'unmatched';
    httpDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (request.method !== 'GET' || request.routeOptions.url !== '/metrics' || !wantsPrometheusText(request.headers.accept)) {
      done();
      return;
    }
    registry.metrics().then((text) => reply.type(registry.contentType).send(text), done);
  });

  return {
    registry,
    instrumentRedis(redis, connection) {
      const send = redis.sendCommand.bind(redis);
      redis.sendCommand = ((command: Command, ...rest: unknown[]) => {
        const end = redisDuration.startTimer({ connection, command: command.name.toLowerCase() });
        command.promise.then(
          () => end({ outcome: 'ok' }),
          () => end({ outcome: 'error' }),
        );
        return (send as (c: Command, ...r: unknown[]) => unknown)(command, ...rest);
      }) as typeof redis.sendCommand;
      return redis;
    },
  };
}
