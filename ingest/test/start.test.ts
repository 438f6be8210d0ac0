import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort, startRedisServer, type TestRedis } from '../../test/support/redis-server.js';
import { seedReading } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => redis.stop());

describe('npm start', () => {
  it('runs ingest with auth off, and says so', async () => {
    const [ingestPort, processPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@energy-pipeline/source', 'scripts/start.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', REDIS_URL: redis.url, INGEST_PORT: String(ingestPort), PROCESS_PORT: String(processPort), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await eventually(() => out.includes('energy-pipeline is running'), 30_000, 100);
      expect(out).toContain('auth is OFF');
      const res = await fetch(`http://127.0.0.1:${ingestPort}/readings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(seedReading()),
      });
      expect(res.status).toBe(202);
    } finally {
      child.kill('SIGINT');
      await exited;
    }
  });
});
