import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIngestConfig } from '../../ingest/src/config/config.js';
import { eventually, freePort, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { spawnService, type ServiceProcess } from '../../scripts/lib/spawn-service.js';
import { makeCertificates, type TestCertificates } from '../../scripts/lib/tls.js';

// What the chart sets for a Redis that only speaks TLS with a private CA (Memorystore's in-transit
// encryption): REDIS_TLS=true and NODE_EXTRA_CA_CERTS naming the mounted CA.
describe('Redis over TLS', () => {
  let certs: TestCertificates;
  let redis: TestRedis;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    certs = makeCertificates();
    redis = await startRedisServer({ tls: certs });
  });
  afterAll(async () => {
    for (const svc of running) svc.child.kill('SIGKILL');
    await redis?.stop();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  const env = (port: number, extra: Record<string, string> = {}) => ({
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(redis.port),
    REDIS_TLS: 'true',
    REDIS_STREAM: 'tls_readings',
    PORT: String(port),
    HOST: '127.0.0.1',
    AUTH_DISABLED: 'true',
    ...extra,
  });
  const start = (service: 'ingest' | 'process', e: Record<string, string>) => {
    const svc = spawnService(service, e);
    running.push(svc);
    return svc;
  };

  it('REDIS_TLS turns the URL built from REDIS_HOST/REDIS_PORT, or REDIS_URL, into rediss://', () => {
    expect(loadIngestConfig({ REDIS_HOST: 'r', REDIS_PORT: '6378', REDIS_TLS: 'true', AUTH_DISABLED: 'true' }).redis.url).toBe('rediss://r:6378');
    expect(loadIngestConfig({ REDIS_URL: 'redis://:pw@r:1/0', REDIS_TLS: 'true', AUTH_DISABLED: 'true' }).redis.url).toBe('rediss://:pw@r:1/0');
    expect(() => loadIngestConfig({ REDIS_TLS: 'maybe', AUTH_DISABLED: 'true' })).toThrow(/REDIS_TLS/);
  }, 10_000);

  it('both services connect with the CA from NODE_EXTRA_CA_CERTS: a reading goes in and is applied', async () => {
    const [ingestPort, processPort] = [await freePort(), await freePort()];
    start('ingest', env(ingestPort, { NODE_EXTRA_CA_CERTS: certs.ca }));
    start('process', env(processPort, { NODE_EXTRA_CA_CERTS: certs.ca, CONSUMER_NAME: 'tls-1' }));
    await eventually(async () => (await fetch(`http://127.0.0.1:${ingestPort}/health`).catch(() => null))?.status === 200, 30_000, 200);
    const posted = await fetch(`http://127.0.0.1:${ingestPort}/readings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ site_id: 'site-tls', device_id: 'meter-1', power_reading: 1500.5, timestamp: new Date().toISOString() }),
    });
    expect(posted.status).toBe(202);
    const device = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${processPort}/sites/site-tls/devices/meter-1`).catch(() => null);
      return res?.status === 200 ? ((await res.json()) as { count: number }) : null;
    }, 30_000, 200);
    expect(device.count).toBe(1);
  }, 90_000);

  it('without the CA the certificate is refused: /health says Redis is down rather than trusting it', async () => {
    const port = await freePort();
    const svc = start('ingest', env(port));
    const res = await eventually(async () => fetch(`http://127.0.0.1:${port}/health`).catch(() => null), 30_000, 200);
    expect(res.status).toBe(503);
    await eventually(() => /certificate/i.test(svc.output()), 10_000, 100);
  }, 60_000);
});
