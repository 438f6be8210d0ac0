import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../lib/redis-server.js';

export interface RunningInflux {
  /** e.g. http://127.0.0.1:34567 */
  url: string;
  /** The database the bench writes to. */
  db: string;
  version: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** The `influxd` version when InfluxDB 1.x is on the PATH, else null. */
export function influxVersion(): string | null {
  const run = spawnSync('influxd', ['version'], { encoding: 'utf8' });
  if (run.error || run.status !== 0) return null;
  return run.stdout.trim();
}

/**
 * A private influxd (1.x) on free ports with its data in a temporary folder, removed by stop().
 * Its settings are the packaged defaults (WAL fsync on every write, HTTP request log on, to
 * /dev/null here) apart from ports, folders and usage reporting: what a user who picked
 * InfluxDB would run.
 */
export async function startInflux(): Promise<RunningInflux | null> {
  const version = influxVersion();
  if (version === null) return null;
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'ep-influx-'));
  const config = join(dir, 'influxdb.conf');
  writeFileSync(
    config,
    [
      'reporting-disabled = true',
      `bind-address = "127.0.0.1:${rpcPort}"`,
      '[meta]',
      `  dir = "${dir}/meta"`,
      '[data]',
      `  dir = "${dir}/data"`,
      `  wal-dir = "${dir}/wal"`,
      '[http]',
      `  bind-address = "127.0.0.1:${httpPort}"`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('influxd', ['run', '-config', config], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${httpPort}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (!(await fetch(`${url}/ping`).then((r) => r.status === 204, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`influxd did not start on ${httpPort}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const db = 'bench';
  const created = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE ${db}` }) });
  if (!created.ok) {
    await stop();
    throw new Error(`influxd: CREATE DATABASE failed with ${created.status}`);
  }
  return { url, db, version, pid: child.pid, stop };
}
