/**
 * A private redis-server under `valgrind --tool=callgrind`, counting the instructions Redis runs
 * inside Lua scripts (`--toggle-collect=luaCallFunction`): the same count for the same workload
 * however busy the machine is, where `INFO commandstats` on a shared 2-core machine moved by a
 * third between identical runs (docs/performance.md, issue 19's second pass). For
 * `bench:profile`'s `dedupe-callgrind` phase; valgrind is on every machine this project runs on.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../lib/redis-server.js';
import type { RedisTarget } from './redis-target.js';

export interface CallgrindRedis extends RedisTarget {
  /** Zeroes the count (`callgrind_control --zero`). */
  zero(): void;
  /** Instructions run inside scripts since the last zero (`callgrind_control --dump`, its `totals:`). */
  count(): number;
}

export async function startCallgrindRedis(): Promise<CallgrindRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ep-callgrind-'));
  const child = spawn(
    'valgrind',
    ['--tool=callgrind', '--toggle-collect=luaCallFunction', `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
     'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1_000) });
  client.on('error', () => {});
  // Valgrind takes seconds to start a program.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`valgrind redis-server exited with ${child.exitCode}`);
    try {
      await client.ping();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server under valgrind on ${port} did not start: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const control = (flag: string) => execFileSync('callgrind_control', [flag, String(child.pid)], { stdio: 'ignore' });
  let dumps = 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    env: {},
    client,
    description: 'private redis-server under callgrind',
    private: true,
    nodes: () => [client],
    zero: () => control('--zero'),
    count() {
      control('--dump');
      dumps += 1;
      // Each dump is a new file, `callgrind.out.<n>`; its `totals:` line is the count since the last zero or dump.
      const file = readdirSync(dir).filter((f) => f.startsWith('callgrind.out.')).sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop())).at(-1);
      const totals = file && /^totals:\s*(\d+)/m.exec(readFileSync(join(dir, file), 'utf8'));
      if (!totals) throw new Error(`callgrind dump ${dumps} not found in ${dir}`);
      return Number(totals[1]);
    },
    async stop() {
      await client.call('SHUTDOWN', 'NOSAVE').catch(() => {});
      client.disconnect();
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
