import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { seedReading } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => redis.stop());

/** Whether a TCP connection to host:port is accepted. */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@energy-pipeline/source', 'scripts/start.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => out, exited };
}

describe('npm start', () => {
  it('starts a private redis-server on a free port unless told to use a Redis, and stops it on Ctrl-C', { timeout: 90_000 }, async () => {
    const [ingestPort, processPort] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'ep-start-'));
    // No REDIS_URL or REDIS_HOST: whatever answers on :6379 (the machine's shared Redis) is not used.
    const run = start({ REDIS_DATA_DIR: dataDir, INGEST_PORT: String(ingestPort), PROCESS_PORT: String(processPort) });
    try {
      // 60 s: in a fresh clone the first start builds the dashboard too.
      await eventually(() => run.output().includes('energy-pipeline is running'), 60_000, 100);
      const url = /starting a private redis-server at (redis:\/\/127\.0\.0\.1:(\d+))/.exec(run.output());
      expect(url).not.toBeNull();
      const redisPort = Number(url![2]);
      expect(redisPort).not.toBe(6379);
      expect(run.output()).toContain(`redis      ${url![1]} (private, data in ${dataDir})`);
      // The processor serves the dashboard at /.
      const page = await fetch(`http://127.0.0.1:${processPort}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="app">');
      expect(run.output()).toContain(`curl -X POST http://localhost:${ingestPort}/readings`);
      const res = await fetch(`http://127.0.0.1:${ingestPort}/readings`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(seedReading()),
      });
      expect(res.status).toBe(202);
      await eventually(async () => {
        const m = (await (await fetch(`http://127.0.0.1:${processPort}/metrics`)).json()) as { applied: { total: number } };
        return m.applied.total === 1;
      });
      const { Redis } = await import('ioredis');
      const own = new Redis({ port: redisPort, lazyConnect: true, retryStrategy: () => null });
      own.on('error', () => {});
      await own.connect();
      expect(await own.xlen('energy_readings')).toBe(1);
      own.disconnect();
      // A second npm start on the same data folder would corrupt its append-only file: refused.
      const second = start({ REDIS_DATA_DIR: dataDir, INGEST_PORT: String(await freePort()), PROCESS_PORT: String(await freePort()) });
      expect(await second.exited).toBe(1);
      expect(second.output()).toContain('another private Redis');

      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      // Its Redis went with it.
      await expect(fetch(`http://127.0.0.1:${ingestPort}/health`)).rejects.toThrow();
      const probe = new Redis({ port: redisPort, lazyConnect: true, retryStrategy: () => null });
      probe.on('error', () => {});
      await expect(probe.connect()).rejects.toThrow();
      probe.disconnect();
    } finally {
      run.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a REDIS_URL where nothing answers, rather than start one there', async () => {
    const run = start({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('nothing answers at redis://127.0.0.1:');
  });

  it('says how to get Redis when redis-server is not installed', async () => {
    // A PATH with node and nothing else.
    const bin = mkdtempSync(join(tmpdir(), 'ep-path-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    try {
      const run = start({ PATH: bin });
      expect(await run.exited).toBe(1);
      expect(run.output()).toContain('redis-server is not installed');
      expect(run.output()).toContain('apt-get install -y redis-server');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('runs both services with auth off, listening on 127.0.0.1 only, and says so', { timeout: 90_000 }, async () => {
    const [ingestPort, processPort] = [await freePort(), await freePort()];
    const run = start({ REDIS_URL: redis.url, INGEST_PORT: String(ingestPort), PROCESS_PORT: String(processPort) });
    try {
      await eventually(() => run.output().includes('energy-pipeline is running'), 60_000, 100);
      expect(run.output()).toContain('auth is OFF');
      expect(run.output()).toContain('listening on 127.0.0.1 only');
      const res = await fetch(`http://127.0.0.1:${ingestPort}/readings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(seedReading()),
      });
      expect(res.status).toBe(202);
      expect((await fetch(`http://127.0.0.1:${processPort}/sites`)).status).toBe(200);
      // Another address of this machine (all of 127/8 is loopback on Linux) finds nothing listening.
      for (const port of [ingestPort, processPort]) expect(await reachable('127.0.0.2', port)).toBe(false);
    } finally {
      run.child.kill('SIGINT');
      await run.exited;
    }
  });

  it('listens where HOST says, with auth off too', { timeout: 90_000 }, async () => {
    const [ingestPort, processPort] = [await freePort(), await freePort()];
    const run = start({ REDIS_URL: redis.url, INGEST_PORT: String(ingestPort), PROCESS_PORT: String(processPort), HOST: '0.0.0.0' });
    try {
      await eventually(() => run.output().includes('energy-pipeline is running'), 60_000, 100);
      for (const port of [ingestPort, processPort]) expect(await reachable('127.0.0.2', port)).toBe(true);
    } finally {
      run.child.kill('SIGINT');
      await run.exited;
    }
  });
});
