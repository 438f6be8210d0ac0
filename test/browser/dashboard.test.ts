/// <reference lib="dom" />
/**
 * The dashboard as a person uses it: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) on the processor's page, two processor replicas (the page on A, readings
 * applied by B), readings posted through the SDK to a real ingest. Screenshots at desktop and
 * phone widths go to test-results/screenshots, which CI keeps as an artifact.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnergyPipelineClient } from '@energy-pipeline/client';
import { hashToken } from '@energy-pipeline/server-kit';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { processApp, processConfig } from '../support/process-app.js';
import { ingestConfig } from '../support/ingest-app.js';
import { ensureDashboard } from '../../scripts/dashboard.js';
import { eventually, startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { repoRoot } from '../deploy/helm.js';

const SCREENSHOTS = join(repoRoot, 'test-results', 'screenshots');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** The flags that work in our sandboxes and CI (no GPU, no sandbox, nothing fetched in the background). */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const READER = 'dashboard-reader-token-7a6b5c4d3e2f1a0b';

let redis: TestRedis;
let ingest: FastifyInstance;
let replicaA: FastifyInstance;
let replicaB: FastifyInstance;
let keyed: FastifyInstance;
let urls: { ingest: string; a: string; keyed: string };
let profile: string;
let browser: BrowserContext;

beforeAll(async () => {
  await ensureDashboard();
  redis = await startRedisServer();
  ingest = buildIngestApp(ingestConfig(redis.url));
  replicaA = processApp(processConfig(redis.url, { CONSUMER_NAME: 'replica-a', LIVE_INTERVAL_MS: '500' }));
  replicaB = processApp(processConfig(redis.url, { CONSUMER_NAME: 'replica-b', LIVE_INTERVAL_MS: '500' }));
  keyed = processApp(processConfig(redis.url, { CONSUMER_NAME: 'keyed', API_KEYS: `${hashToken(READER)}@read` }));
  urls = {
    ingest: await ingest.listen({ host: '127.0.0.1', port: 0 }),
    a: await replicaA.listen({ host: '127.0.0.1', port: 0 }),
    keyed: await keyed.listen({ host: '127.0.0.1', port: 0 }),
  };
  await replicaB.listen({ host: '127.0.0.1', port: 0 });
  replicaB.worker.start(); // B applies; the page's replica A only serves
  mkdirSync(SCREENSHOTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'ep-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await Promise.all([ingest?.close(), replicaA?.close(), replicaB?.close(), keyed?.close()]);
  await redis?.stop();
}, 60_000);

const sdk = () => new EnergyPipelineClient({ ingestUrl: urls.ingest });
const reading = (site: string, deviceId: string, power: number, agoMs = 0) => ({
  site_id: site,
  device_id: deviceId,
  power_reading: power,
  timestamp: new Date(Date.now() - agoMs).toISOString(),
});

/** A page that records every console error and uncaught exception. */
async function open(url: string, width: number, height: number): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewportSize({ width, height });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return { page, errors };
}

describe('dashboard', () => {
  it('shows a reading posted through the SDK on the site page within 2 s (page on replica A, applied by B), with no console error', async () => {
    const client = sdk();
    // History for the bars and a few devices, a minute back.
    await client.sendReadings([
      reading('site-001', 'inverter-1', -3200, 60_000),
      reading('site-001', 'meter-1', 420, 60_000),
      reading('site-001', 'meter-2', 310, 60_000),
      reading('site-001', 'inverter-1', -3100, 30_000),
      reading('site-001', 'meter-1', 460, 30_000),
      reading('site-001', 'meter-2', 290, 30_000),
    ]);
    await eventually(async () => (await replicaB.worker.status()).applied >= 6);

    const { page, errors } = await open(`${urls.a}/#/site/site-001`, 1280, 900);
    const power = page.getByTestId('site-power');
    await expect.poll(() => power.textContent(), { timeout: 10_000 }).toBe('-2.35 kW');
    const chart = page.getByTestId('power-chart');
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(0);
    const pointsBefore = Number(await chart.getAttribute('data-points'));

    await client.sendReading(reading('site-001', 'meter-3', 1250));
    const sentAt = Date.now();
    await page.waitForFunction(
      ({ before }) =>
        document.querySelector('[data-testid=site-power]')?.textContent === '-1.10 kW' &&
        Number((document.querySelector('[data-testid=power-chart]') as HTMLElement | null)?.dataset.points) > before,
      { before: pointsBefore },
      { timeout: 2_000 },
    );
    expect(Date.now() - sentAt).toBeLessThan(2_000);
    await expect.poll(() => page.getByTestId('devices').textContent(), { timeout: 5_000 }).toContain('meter-3');
    await page.waitForTimeout(1_500); // the bars' history and a snapshot or two
    await page.screenshot({ path: join(SCREENSHOTS, 'site-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(500);
    // Readable on a phone: nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SCREENSHOTS, 'site-phone.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows the fleet with power now, energy today, quiet devices and pipeline health; the dead-letter count links to the list', async () => {
    await sdk().sendReadings([reading('site-002', 'meter-1', 800), reading('site-003', 'inverter-1', -1500)]);
    const { page, errors } = await open(`${urls.a}/`, 1280, 900);
    const fleet = page.getByTestId('fleet');
    await expect.poll(() => fleet.textContent(), { timeout: 10_000 }).toContain('site-003');
    const row = await fleet.locator('tr', { hasText: 'site-002' }).textContent();
    expect(row).toContain('800 W');
    await expect.poll(() => page.getByTestId('pipeline').textContent(), { timeout: 10_000 }).toMatch(/lag 0/);
    await page.screenshot({ path: join(SCREENSHOTS, 'fleet-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(SCREENSHOTS, 'fleet-phone.png'), fullPage: true });

    await page.getByTestId('dead-letters').click();
    await expect.poll(() => page.locator('main').textContent(), { timeout: 5_000 }).toContain('Dead letters');
    expect(page.url()).toContain('#/dead-letters');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('with auth on, asks for a key, keeps it for the tab only, and never puts it in a URL', async () => {
    const { page, errors } = await open(`${urls.keyed}/#/site/site-001`, 1280, 900);
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.getByLabel('API key').fill(READER);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await expect.poll(() => page.getByTestId('site-power').textContent(), { timeout: 10_000 }).toMatch(/kW|W/);
    expect(await page.evaluate(() => sessionStorage.getItem('energy-pipeline.api-key'))).toBe(READER);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(requested.some((u) => u.includes('/trpc/'))).toBe(true);
    expect(requested.filter((u) => u.includes(READER))).toEqual([]);
    // The 401s before the key was given are the browser's own network log lines, not the page's errors.
    expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
    await page.close();
  }, 60_000);
});
