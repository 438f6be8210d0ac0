import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnergyPipelineClient, type IdentifiedReading } from '../src/index.js';
import { FileSpool, openSpool } from '../src/node/index.js';
import { currentBootId, parseOwner, processStart } from '../src/node/spool-lock.js';
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
    expect(readdirSync(dir).filter((f) => f !== 'lock' && f !== 'seq.log')).toEqual([]);
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

  it('remembers across a restart which unacknowledged readings were sent, marking each once', () => {
    const spool = new FileSpool(dir, { segmentMaxBytes: 300 });
    for (let i = 0; i < 6; i++) spool.append(item(i));
    spool.sending(['r-0', 'r-1', 'r-4']);
    spool.sending(['r-0', 'r-4', 'r-5', 'not-spooled']); // a resend: only r-5 is new
    spool.acknowledge(['r-1']);
    spool.close();
    const marks = readdirSync(dir).filter((f) => f.endsWith('.sent')).flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'));
    expect(marks.sort()).toEqual(['r-0', 'r-1', 'r-4', 'r-5']);

    const again = openSpool(dir);
    expect(ids(again.load())).toEqual(['r-0', 'r-2', 'r-3', 'r-4', 'r-5']);
    // Acknowledged readings are not handed back, marked or not.
    expect([...again.sentBefore()].sort()).toEqual(['r-0', 'r-4', 'r-5']);
    again.acknowledge(['r-0', 'r-2', 'r-3', 'r-4', 'r-5']);
    again.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.sent') || f.endsWith('.acks'))).toEqual([]);
  });

  it("feeds a buffer: a restored reading sent by the earlier run is unconfirmed when too old to check, an unsent one rejected", async () => {
    const spool = openSpool(dir);
    for (let i = 0; i < 2; i++) spool.append(item(i));
    spool.sending(['r-0']); // then the process died with r-0 in flight
    spool.close();
    const server = await startFakeServer((req) => {
      const readings = (req.body as { readings: unknown[] }).readings;
      const results = readings.map((_, index) => ({ index, status: 'rejected', error: 'out_of_order', message: 'too old', stored_before: 'unknown' }));
      return { status: 200, body: { accepted: 0, rejected: readings.length, results } };
    });
    try {
      const client = new EnergyPipelineClient({ ingestUrl: server.url, retry: { maxAttempts: 1 } });
      const unconfirmed: string[] = [];
      const rejected: string[] = [];
      const buffer = client.buffer({
        store: openSpool(dir),
        flushIntervalMs: 60_000,
        onUnconfirmed: (r) => unconfirmed.push(r.reading_id),
        onRejected: (r) => rejected.push(r.reading_id),
      });
      await buffer.flush();
      expect([unconfirmed, rejected]).toEqual([['r-0'], ['r-1']]);
      expect(await buffer.close()).toMatchObject({ restored: 2, buffered: 0, rejected: 1, unconfirmed: 1 });
      // Both answered for: nothing to replay.
      const reopened = openSpool(dir);
      expect(reopened.load()).toEqual([]);
      reopened.close();
    } finally {
      await server.close();
    }
  });

  it('refuses to be opened twice in one process', () => {
    const spool = openSpool(dir);
    expect(() => openSpool(dir)).toThrow(/already open in this process/);
    spool.close();
  });

  it('takes over a lock from an earlier boot or a reused pid, though the pid is alive now', () => {
    expect(currentBootId()).toMatch(/^[0-9a-f-]{36}$/); // Linux, as CI
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      const pid = other.pid!;
      const lock = (owner: object) => writeFileSync(join(dir, 'lock'), JSON.stringify({ pid, ...owner }));
      // The live owner, as it wrote the lock itself: refused.
      lock({ boot_id: currentBootId(), start: processStart(pid) });
      expect(() => openSpool(dir)).toThrow(`in use by process ${pid}`);
      // Written before a reboot: the pid now belongs to another program.
      lock({ boot_id: '00000000-0000-0000-0000-000000000000', start: processStart(pid) });
      openSpool(dir).close();
      // Same boot, but the pid was reused by a process started later.
      lock({ boot_id: currentBootId(), start: '1' });
      const spool = openSpool(dir);
      expect(parseOwner(readFileSync(join(dir, 'lock'), 'utf8'))).toEqual({ pid: process.pid, boot_id: currentBootId(), start: processStart(process.pid) });
      spool.close();
    } finally {
      other.kill('SIGKILL');
    }
  });
});

describe('a spooled buffer killed with SIGKILL', () => {
  let server: FakeServer;
  afterEach(() => server?.close());

  /** Resolves once `enough(added)` holds for the reading_ids the device reported added, then SIGKILLs it. */
  const killWhen = (device: ChildProcess, enough: (added: string[]) => boolean) =>
    new Promise<string[]>((resolve, reject) => {
      const added: string[] = [];
      let stderr = '';
      let buffered = '';
      device.stderr!.on('data', (d) => (stderr += d));
      device.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) if (line.startsWith('added ')) added.push(line.slice(6));
        if (enough(added) && device.signalCode === null) {
          device.kill('SIGKILL');
          resolve(added);
        }
      });
      device.once('exit', () => reject(new Error(`device exited early: ${stderr}`)));
    });

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

  it('never reuses a seq across repeated kills: unique per device and increasing in add() order, each resend with its own', async () => {
    const received: IdentifiedReading[] = [];
    server = await startFakeServer(async (req) => {
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      received.push(...(req.body as { readings: IdentifiedReading[] }).readings);
      return { status: 200, body: acceptAll(req.body) };
    });
    const rounds = 6;
    for (let round = 0; round < rounds; round++) {
      const seen = received.length;
      // A small block, so that kills land before, during and after reservations; a random stop.
      const target = 40 + Math.floor(Math.random() * 160);
      const device = run('add', server.url, dir, '100000', `r${round}`, '7');
      await killWhen(device, (added) => added.length >= target && received.length > seen);
      await exited(device);
    }
    const restart = run('drain', server.url, dir);
    let stderr = '';
    restart.stderr!.on('data', (d) => (stderr += d));
    expect(await exited(restart), stderr).toBe(0);

    // One seq per reading_id, however often it was sent.
    const seqOf = new Map<string, number>();
    for (const r of received) {
      expect(r.seq, r.reading_id).toEqual(expect.any(Number));
      if (seqOf.has(r.reading_id)) expect(r.seq, r.reading_id).toBe(seqOf.get(r.reading_id));
      seqOf.set(r.reading_id, r.seq!);
    }
    // In add() order (round, then index within the round), each device's numbers strictly increase.
    const addOrder = (id: string) => id.slice(1).split('-').map(Number) as [number, number];
    const byDevice = new Map<string, IdentifiedReading[]>();
    for (const r of new Map(received.map((x) => [x.reading_id, x])).values()) {
      byDevice.set(r.device_id, [...(byDevice.get(r.device_id) ?? []), r]);
    }
    expect([...byDevice.keys()].sort()).toEqual(['meter-1', 'meter-2']);
    for (const [device, readings] of byDevice) {
      readings.sort((a, b) => {
        const [ra, ia] = addOrder(a.reading_id);
        const [rb, ib] = addOrder(b.reading_id);
        return ra - rb || ia - ib;
      });
      const seqs = readings.map((r) => r.seq!);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i], `${device} ${readings[i]!.reading_id}`).toBeGreaterThan(seqs[i - 1]!);
      expect(new Set(seqs).size).toBe(seqs.length);
      // Restarts continued at the reserved mark, not at the clock: each run skipped at most a block.
      expect(seqs.at(-1)! - seqs[0]!).toBeLessThan(seqs.length + (rounds + 1) * 7);
    }
    // Every round reached the server, so the check above spans all the restarts.
    expect(new Set([...seqOf.keys()].map((id) => id.split('-')[0])).size).toBe(rounds);
  }, 120_000);
});
