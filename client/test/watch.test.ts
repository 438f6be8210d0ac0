/**
 * `client.watch.*` and `energy-pipeline watch` against real servers: ingest, two processor
 * replicas (A without a worker, B applying) on one private redis-server, and a TCP proxy standing
 * for the load balancer in front of the replicas. Readings go in through the SDK, as a device's.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { processApp, processConfig } from '../../test/support/process-app.js';
import { EnergyPipelineClient, type SiteEvent, ValidationError } from '../src/index.js';
import type { CliIo } from '../src/cli/io.js';
import { main } from '../src/cli/main.js';
import { ingestConfig } from '../../test/support/ingest-app.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../../test/support/tcp-proxy.js';

const repoDir = fileURLToPath(new URL('../..', import.meta.url));
let redis: TestRedis;
let ingest: FastifyInstance;
let replicaA: FastifyInstance;
let replicaB: FastifyInstance;
let ingestUrl: string;
let urlA: string;
let urlB: string;
let proxy: TcpProxy;

const portOf = (url: string) => Number(new URL(url).port);

beforeAll(async () => {
  redis = await startRedisServer();
  ingest = buildIngestApp(ingestConfig(redis.url));
  ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });
  replicaA = processApp(processConfig(redis.url, { CONSUMER_NAME: 'replica-a', LIVE_INTERVAL_MS: '250' }));
  replicaB = processApp(processConfig(redis.url, { CONSUMER_NAME: 'replica-b', LIVE_INTERVAL_MS: '250' }));
  urlA = await replicaA.listen({ host: '127.0.0.1', port: 0 });
  urlB = await replicaB.listen({ host: '127.0.0.1', port: 0 });
  replicaB.worker.start(); // B applies; A only serves
  proxy = await startTcpProxy(portOf(urlA));
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  await Promise.all([ingest?.close(), replicaA?.close(), replicaB?.close()]);
  await redis?.stop();
});

const device = (_site: string) => new EnergyPipelineClient({ ingestUrl });
const reading = (site: string, deviceId: string, power: number) => ({
  site_id: site,
  device_id: deviceId,
  power_reading: power,
  timestamp: new Date().toISOString(),
});
const readingsOf = (events: { data: SiteEvent }[]) => events.flatMap((e) => (e.data.type === 'readings' ? e.data.readings : []));

describe('client.watch', () => {
  it('resumes after a dropped connection on the other replica, with nothing missed and nothing twice', async () => {
    const watcher = new EnergyPipelineClient({ ingestUrl, processUrl: proxy.url });
    const controller = new AbortController();
    const events: { id: string; data: SiteEvent }[] = [];
    const loop = (async () => {
      for await (const e of watcher.watch.site('site-sdk', { signal: controller.signal })) events.push(e);
    })();
    await eventually(() => events[0]);
    const sender = device('site-sdk');
    const powers = Array.from({ length: 12 }, (_, i) => i + 1);
    for (const p of powers.slice(0, 4)) await sender.sendReading(reading('site-sdk', `m${p % 3}`, p));
    await eventually(() => readingsOf(events).length === 4);

    // The replica goes away: its connections drop, the balancer sends new ones to B.
    proxy.switchTo(portOf(urlB));
    proxy.dropAll();
    await sender.sendReadings(powers.slice(4, 8).map((p) => reading('site-sdk', `m${p % 3}`, p)));
    for (const p of powers.slice(8)) await sender.sendReading(reading('site-sdk', `m${p % 3}`, p));
    await eventually(() => readingsOf(events).length >= 12, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    controller.abort();
    await loop;
    expect(readingsOf(events).map((r) => r.power_w)).toEqual(powers);
    // Figures from B after the switch, with everything B applied.
    const last = events.findLast((e) => e.data.type === 'snapshot')!.data as Extract<SiteEvent, { type: 'snapshot' }>;
    expect(last.site.devices.map((d) => d.power_w).sort()).toEqual([10, 11, 12]);
    proxy.switchTo(portOf(urlA));
  }, 60_000);

  it('ends a subscription the router refuses as invalid at once, with a ValidationError', async () => {
    const client = new EnergyPipelineClient({ ingestUrl, processUrl: urlA });
    const err = await (async () => {
      for await (const _ of client.watch.site('')) return null;
      return null;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ kind: 'validation_failed', status: 400, attempts: 1 });
  });

  it('compiles a watch loop with types from the router', () => {
    const client = new EnergyPipelineClient({ ingestUrl, processUrl: urlA });
    const typed = async (signal: AbortSignal) => {
      for await (const { id, data } of client.watch.site('s', { signal })) {
        const ok: string = id;
        if (data.type === 'snapshot') {
          const power: number = data.site.power_w;
          const today: number = data.site.energy.day.energy_wh;
          void [ok, power, today];
        }
        // @ts-expect-error a site event is a snapshot, readings or a notice
        if (data.type === 'other') return;
      }
      for await (const p of client.watch.pipeline({ signal })) {
        const lag: number | null = p.totals.lag;
        void lag;
      }
    };
    expect(typeof typed).toBe('function');
  });
});

interface Captured {
  out: string;
  interrupt: (() => void) | null;
}

function cliIo(captured: Captured, tty: boolean, processUrl: string): CliIo {
  return {
    stdout: (t) => (captured.out += t),
    stderr: (t) => (captured.out += t),
    isTTY: tty,
    stdoutIsTTY: tty,
    columns: 100,
    env: { ENERGY_PIPELINE_INGEST_URL: ingestUrl, ENERGY_PIPELINE_PROCESS_URL: processUrl },
    onInterrupt: (handler) => {
      captured.interrupt = handler;
      return () => {};
    },
  };
}

describe('energy-pipeline watch', () => {
  it('watch site: plain lines when not on a terminal, across a dropped connection, and exit 0 on Ctrl-C', async () => {
    const captured: Captured = { out: '', interrupt: null };
    const run = main(['watch', 'site', 'site-cli', '--json'], cliIo(captured, false, proxy.url));
    await eventually(() => captured.out.includes('"snapshot"'));
    const sender = device('site-cli');
    await sender.sendReading(reading('site-cli', 'meter-1', 1500));
    await eventually(() => captured.out.includes('"power_w":1500'));
    proxy.switchTo(portOf(urlB));
    proxy.dropAll();
    await sender.sendReading(reading('site-cli', 'meter-1', 2500));
    await eventually(() => captured.out.includes('"power_w":2500'), 20_000);
    captured.interrupt!();
    expect(await run).toBe(0);
    const events = captured.out.trim().split('\n').map((l) => JSON.parse(l) as { id: string; data: SiteEvent });
    expect(readingsOf(events).map((r) => r.power_w)).toEqual([1500, 2500]);
    proxy.switchTo(portOf(urlA));
  }, 60_000);

  it('watch site: a text line per update without a terminal; a redrawn view with devices, energy today and quiet devices on one', async () => {
    const sender = device('site-view');
    await sender.sendReadings([reading('site-view', 'inverter-1', -2000), reading('site-view', 'meter-1', 450)]);
    const plain: Captured = { out: '', interrupt: null };
    const plainRun = main(['watch', 'site', 'site-view'], cliIo(plain, false, urlA));
    await eventually(() => plain.out.includes('power -1.55 kW'));
    plain.interrupt!();
    expect(await plainRun).toBe(0);
    expect(plain.out.split('\n')[0]).toMatch(/^\S+Z site-view power -1\.55 kW today -?[\d.]+ k?Wh devices 2 quiet none$/);
    expect(plain.out).not.toContain('\x1b[');

    const tty: Captured = { out: '', interrupt: null };
    const ttyRun = main(['watch', 'site', 'site-view'], cliIo(tty, true, urlA));
    await eventually(() => tty.out.includes('inverter-1'));
    await sender.sendReading(reading('site-view', 'meter-2', 100));
    await eventually(() => tty.out.includes('meter-2'));
    tty.interrupt!();
    expect(await ttyRun).toBe(0);
    const frames = tty.out.split('\x1b[H\x1b[J');
    expect(frames.length).toBeGreaterThan(2);
    const frame = frames.at(-1)!;
    expect(frame).toContain('site-view (UTC)');
    expect(frame).toMatch(/power now -1\.45 kW/);
    expect(frame).toMatch(/today \(\d{4}-\d{2}-\d{2}\)/);
    expect(frame).toMatch(/DEVICE\s+POWER NOW\s+LAST READING\s+INTERVAL\s+STATE/);
    expect(frame).toMatch(/meter-2\s+100 W/);
    expect(frame).toContain('quiet: none');
    expect(tty.out.endsWith('\x1b[?25h')).toBe(true); // the cursor is back
  }, 60_000);

  it('watch pipeline: lag and rates', async () => {
    const captured: Captured = { out: '', interrupt: null };
    const run = main(['watch', 'pipeline'], cliIo(captured, false, urlA));
    await eventually(() => captured.out.includes('lag 0'));
    captured.interrupt!();
    expect(await run).toBe(0);
    expect(captured.out.split('\n')[0]).toMatch(/^\S+Z redis up lag 0 pending \d+ in (–|[\d.]+\/s) applied (–|[\d.]+\/s) dead_letters 0$/);
  });

  it('watch site with a processor that refuses the key: exit 1 with the reason', async () => {
    const keyed = processApp(processConfig(redis.url, { CONSUMER_NAME: 'keyed', API_KEYS: 'a'.repeat(64) + '@read' }));
    const url = await keyed.listen({ host: '127.0.0.1', port: 0 });
    try {
      const captured: Captured = { out: '', interrupt: null };
      expect(await main(['watch', 'site', 'x'], cliIo(captured, false, url))).toBe(1);
      expect(captured.out).toContain('HTTP 401');
    } finally {
      await keyed.close();
    }
  });

  it('stops on a real Ctrl-C (SIGINT to its process group, as a terminal sends it) with exit code 0', async () => {
    const child = spawn(process.execPath, [`${repoDir}client/bin/energy-pipeline.js`, 'watch', 'pipeline', '--process-url', urlA], {
      cwd: repoDir,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(() => out.includes('redis up'), 30_000);
    process.kill(-child.pid!, 'SIGINT');
    expect(await exit).toBe(0);
    expect(out).not.toContain('Error');
  }, 60_000);
});
