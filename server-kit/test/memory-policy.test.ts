import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { EvictionPolicyError, closeRedis, createRedis, createLogger, installEvictionPolicyCheck, readMaxmemoryPolicy, serverOptions, waitReady } from '@energy-pipeline/server-kit';
import { loadIngestConfig } from '@energy-pipeline/ingest';
import { loadProcessConfig } from '@energy-pipeline/process';
import { eventually, freePort, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { spawnService } from '../../scripts/lib/spawn-service.js';

const services = ['ingest', 'process'] as const;

/** A Fastify app with only the check installed, its log lines collected. */
function appWithCheck(url: string, allowEviction: boolean) {
  const lines: { level: number; msg: string; maxmemoryPolicy?: string }[] = [];
  const app = Fastify(serverOptions(createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line)) } }), { bodyLimit: 1024, accessLog: 'all' }));
  const redis = createRedis({ url, role: 'commands', name: 'ep-memory-policy-test' });
  let closed = false;
  app.addHook('onReady', async () => {
    await waitReady(redis, 2_000).catch(() => {});
  });
  installEvictionPolicyCheck(app, redis, allowEviction);
  app.addHook('onClose', async () => {
    closed = true;
    await closeRedis(redis);
  });
  return { app, lines, isClosed: () => closed };
}

function serviceEnv(service: (typeof services)[number], url: string, port: number, extra: Record<string, string> = {}) {
  return {
    REDIS_URL: url, PORT: String(port), HOST: '127.0.0.1', AUTH_DISABLED: 'true', REDIS_STREAM: `policy-${service}`,
    ...(service === 'process' ? { CONSUMER_NAME: 'policy-test' } : {}),
    ...extra,
  };
}

describe('ALLOW_EVICTION', () => {
  it('is off unless set, parsed once into both services’ Redis config, and a bad value is named', () => {
    expect(loadIngestConfig({ AUTH_DISABLED: 'true' }).redis.allowEviction).toBe(false);
    expect(loadProcessConfig({ AUTH_DISABLED: 'true' }).redis.allowEviction).toBe(false);
    expect(loadIngestConfig({ AUTH_DISABLED: 'true', ALLOW_EVICTION: 'true' }).redis.allowEviction).toBe(true);
    expect(loadProcessConfig({ AUTH_DISABLED: 'true', ALLOW_EVICTION: 'true' }).redis.allowEviction).toBe(true);
    expect(() => loadProcessConfig({ AUTH_DISABLED: 'true', ALLOW_EVICTION: 'maybe' })).toThrow(/ALLOW_EVICTION/);
  });
});

describe('maxmemory-policy check', () => {
  let evicting: TestRedis;
  let safe: TestRedis;
  beforeAll(async () => {
    [evicting, safe] = await Promise.all([
      startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru'] }),
      startRedisServer(),
    ]);
  });
  afterAll(async () => Promise.all([evicting?.stop(), safe?.stop()]));

  it('reads the policy from INFO memory, and calls it unknown when INFO is refused', async () => {
    expect(await readMaxmemoryPolicy(evicting.client)).toBe('allkeys-lru');
    expect(await readMaxmemoryPolicy(safe.client)).toBe('noeviction');
    // A managed-Redis style ACL user that may not run INFO.
    await safe.client.call('ACL', 'SETUSER', 'no-info', 'on', '>pw', '~*', '&*', '+@all', '-info');
    const limited = new Redis({ port: safe.port, host: '127.0.0.1', username: 'no-info', password: 'pw', lazyConnect: true, enableReadyCheck: false });
    try {
      await limited.connect();
      expect(await readMaxmemoryPolicy(limited)).toMatch(/^unknown \(INFO memory failed: NOPERM/);
    } finally {
      limited.disconnect();
    }
  });

  it('refuses to start on an evicting Redis, naming the policy', async () => {
    const { app, lines } = appWithCheck(evicting.url, false);
    await expect(app.ready()).rejects.toThrow(EvictionPolicyError);
    await app.close();
    const error = lines.find((l) => l.level === 50);
    expect(error?.msg).toContain('maxmemory-policy is allkeys-lru, not noeviction');
    expect(error?.maxmemoryPolicy).toBe('allkeys-lru');
  });

  it('starts on an evicting Redis with ALLOW_EVICTION, logging an error', async () => {
    const { app, lines } = appWithCheck(evicting.url, true);
    await app.ready();
    await app.close();
    const error = lines.find((l) => l.level === 50);
    expect(error?.msg).toMatch(/maxmemory-policy is allkeys-lru.*running anyway because ALLOW_EVICTION=true/);
  });

  it('checks again on every reconnect, and stops when the server it reconnects to evicts', async () => {
    const { app, lines, isClosed } = appWithCheck(safe.url, false);
    await app.ready();
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    await safe.client.config('SET', 'maxmemory-policy', 'volatile-lru');
    try {
      await safe.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await eventually(() => isClosed());
      expect(lines.find((l) => l.level === 50)?.msg).toContain('maxmemory-policy is volatile-lru');
    } finally {
      await safe.client.config('SET', 'maxmemory-policy', 'noeviction');
      await app.close();
    }
  });

  // Each of these starts a service with tsx, which takes seconds on a busy machine.
  it.each(services)('%s: refuses to start on an evicting Redis, exit 1 and an error naming the policy', async (service) => {
    const refused = spawnService(service, serviceEnv(service, evicting.url, await freePort()));
    try {
      expect(await refused.exit).toBe(1);
      expect(refused.output()).toContain('maxmemory-policy is allkeys-lru, not noeviction');
      expect(refused.output()).toContain('"level":60');
    } finally {
      refused.child.kill('SIGKILL');
    }
  }, 60_000);

  it.each(services)('%s: with ALLOW_EVICTION=true starts on an evicting Redis and logs an error', async (service) => {
    const port = await freePort();
    const allowed = spawnService(service, serviceEnv(service, evicting.url, port, { ALLOW_EVICTION: 'true' }));
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 45_000, 100);
      expect(allowed.output()).toMatch(/"level":50[^\n]*maxmemory-policy is allkeys-lru[^\n]*ALLOW_EVICTION=true/);
      allowed.child.kill('SIGTERM');
      expect(await allowed.exit).toBe(0);
    } finally {
      allowed.child.kill('SIGKILL');
    }
  }, 60_000);

  it.each(services)('%s: starts while Redis is down (503s, no crash loop), then exits 1 once it connects to an evicting one', async (service) => {
    const redisPort = await freePort();
    const port = await freePort();
    const svc = spawnService(service, serviceEnv(service, `redis://127.0.0.1:${redisPort}`, port));
    let late: TestRedis | undefined;
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 503, 45_000, 100);
      expect(svc.output()).toContain('maxmemory-policy not checked yet');
      late = await startRedisServer({ port: redisPort, args: ['--maxmemory-policy', 'volatile-lru'] });
      expect(await svc.exit).toBe(1);
      expect(svc.output()).toContain('maxmemory-policy is volatile-lru, not noeviction');
    } finally {
      svc.child.kill('SIGKILL');
      await late?.stop();
    }
  }, 60_000);
});
