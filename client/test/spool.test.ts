import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IdentifiedReading } from '../src/index.js';
import { FileSpool, openSpool } from '../src/node/index.js';
import { acceptAll, type FakeServer, startFakeServer } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ep-spool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const item = (i: number): IdentifiedReading => ({
  site_id: 'site-1',
  device_id: 'meter-1',
  power_reading: i,
  timestamp: '2026-01-15T10:00:00Z',
  reading_id: `r-${i}`,
});
const ids = (readings: IdentifiedReading[]) => readings.map((r) => r.reading_id);
const segments = () => readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();

describe('FileSpool', () => {
  it('hands back, in order, what was appended and not acknowledged', () => {
    const spool = openSpool(dir, { fsync: 'always' });
    expect(spool.load()).toEqual([]);
    for (let i = 0; i < 5; i++) spool.append(item(i));
    spool.acknowledge(['r-1', 'r-3']);
    spool.close();

    const again = openSpool(dir);
    expect(ids(again.load())).toEqual(['r-0', 'r-2', 'r-4']);
    expect(again.size).toBe(3);
    again.close();
  });

  it('rolls segments and deletes each once all its readings are acknowledged', () => {
    const spool = new FileSpool(dir, { segmentMaxBytes: 300 });
    for (let i = 0; i < 12; i++) spool.append(item(i));
    const before = segments();
    expect(before.length).toBeGreaterThan(2);
    spool.acknowledge(Array.from({ length: 8 }, (_, i) => `r-${i}`));
    const after = segments();
    expect(after.length).toBeLessThan(before.length);
    spool.acknowledge(Array.from({ length: 12 }, (_, i) => `r-${i}`));
    spool.close();
    // Nothing left to replay: no segment, no ack file.
    expect(readdirSync(dir).filter((f) => f !== 'lock')).toEqual([]);
  });

  it('empties the segment being written once everything in it is acknowledged', () => {
    const spool = openSpool(dir);
    for (let i = 0; i < 3; i++) spool.append(item(i));
    spool.acknowledge(['r-0', 'r-1', 'r-2']);
    expect(segments().map((f) => statSync(join(dir, f)).size)).toEqual([0]);
    spool.append(item(3));
    spool.close();
    expect(ids(openSpool(dir).load())).toEqual(['r-3']);
  });

  it('skips a line torn by a crash mid-write', () => {
    const spool = openSpool(dir);
    spool.append(item(1));
    spool.close();
    appendFileSync(join(dir, segments()[0]!), '{"site_id":"site-1","reading_');
    const again = openSpool(dir);
    expect(ids(again.load())).toEqual(['r-1']);
    again.append(item(2));
    again.close();
    expect(ids(openSpool(dir).load())).toEqual(['r-1', 'r-2']);
  });

  it('refuses a second writer but takes over the lock of a dead one', () => {
    const spool = openSpool(dir);
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      writeFileSync(join(dir, 'lock'), String(other.pid));
      expect(() => openSpool(dir)).toThrow(/in use by process/);
    } finally {
      other.kill('SIGKILL');
    }
    spool.close();
    writeFileSync(join(dir, 'lock'), '2147483646'); // no such process
    expect(() => openSpool(dir).close()).not.toThrow();
  });
});

describe('a spooled buffer killed with SIGKILL', () => {
  let server: FakeServer;
  afterEach(() => server?.close());

  const fixture = fileURLToPath(new URL('./fixtures/spool-device.ts', import.meta.url));
  const run = (...args: string[]) =>
    spawn(process.execPath, ['--import', 'tsx', '--conditions=@energy-pipeline/source', fixture, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });

  it('delivers every reading add() accepted after a restart, none it did not, each id at least once', async () => {
    const received: string[] = [];
    // A slow ingest, so that at the kill some readings are in flight and many not yet sent.
    server = await startFakeServer(async (req) => {
      await new Promise((r) => setTimeout(r, 30));
      received.push(...ids((req.body as { readings: IdentifiedReading[] }).readings));
      return { status: 200, body: acceptAll(req.body) };
    });

    const device = run('add', server.url, dir, '100000');
    const added: string[] = [];
    let stderr = '';
    device.stderr!.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      device.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) if (line.startsWith('added ')) added.push(line.slice(6));
        if (added.length >= 300 && received.length > 0 && device.signalCode === null) {
          device.kill('SIGKILL');
          resolve();
        }
      });
      device.once('exit', () => reject(new Error(`device exited early: ${stderr}`)));
    });
    await exited(device);
    const receivedBeforeRestart = received.length;
    expect(receivedBeforeRestart).toBeLessThan(added.length); // the kill left readings undelivered

    const restart = run('drain', server.url, dir);
    let out = '';
    restart.stdout!.on('data', (d) => (out += d));
    restart.stderr!.on('data', (d) => (stderr += d));
    expect(await exited(restart), stderr).toBe(0);
    const stats = JSON.parse(out) as { restored: number; sent: number; buffered: number };
    expect(stats.restored).toBeGreaterThan(0);
    expect(stats.buffered).toBe(0);

    const unique = new Set(received);
    for (const id of added) expect(unique.has(id), id).toBe(true);
    // Only readings the device created; a few of them may be ones add() had stored but not yet reported.
    for (const id of unique) expect(id).toMatch(/^run-\d+$/);
    expect(unique.size - added.length).toBeLessThanOrEqual(5);
    // Resent at most: what was in flight or acknowledged-but-not-yet-recorded at the kill.
    expect(received.length - unique.size).toBeLessThanOrEqual(20);
    expect(segments().filter((f) => statSync(join(dir, f)).size > 0)).toEqual([]);
  }, 60_000);
});
