import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '@energy-pipeline/ingest';
import { processApp, processConfig } from '../../test/support/process-app.js';
import { ingestConfig } from '../../test/support/ingest-app.js';
import { startRedisServer, type TestRedis } from '../../scripts/lib/redis-server.js';
import { storedReadings } from '../../test/support/stream.js';

/** Both real services on free ports, over a private redis-server. */
export interface Stack {
  redis: TestRedis;
  ingestUrl: string;
  processUrl: string;
  /** The stream the ingest writes to. */
  stream: string;
  stop(): Promise<void>;
}

export async function startStack(ingestEnv: Record<string, string> = {}): Promise<Stack> {
  const redis = await startRedisServer();
  const ingest: FastifyInstance = buildIngestApp(ingestConfig(redis.url, ingestEnv));
  const processor = processApp(processConfig(redis.url));
  const ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });
  const processUrl = await processor.listen({ host: '127.0.0.1', port: 0 });
  processor.worker.start();
  return {
    redis,
    ingestUrl,
    processUrl,
    stream: 'test_readings',
    async stop() {
      await Promise.all([ingest.close(), processor.close()]);
      await redis.stop();
    },
  };
}

/** reading_id of every reading in the stream (single and batch entries), in stream order. */
export async function streamReadingIds(stack: Stack): Promise<string[]> {
  return (await storedReadings(stack.redis.client, stack.stream)).map((r) => String(r.fields.reading_id));
}

export const reading = (i = 0, overrides: Record<string, unknown> = {}) => ({
  site_id: 'site-001',
  device_id: `meter-${i % 4}`,
  power_reading: 100 + i,
  timestamp: new Date(Date.now() - 60_000 + i).toISOString(),
  ...overrides,
});

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body, gunzipped when sent with Content-Encoding: gzip. */
  body: unknown;
}

export type FakeReply = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang' | 'reset';

/**
 * A server that answers what the test scripts: statuses, Retry-After, hanging (for timeouts) or
 * resetting the connection (for network errors). Records every request it gets.
 */
export interface FakeServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeServer(reply: (req: RecordedRequest, n: number) => FakeReply | Promise<FakeReply>): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let raw = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined,
    };
    requests.push(recorded);
    const answer = await reply(recorded, requests.length);
    if (answer === 'hang') {
      hanging.add(res);
      return;
    }
    if (answer === 'reset') {
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** What the real ingest answers to a batch, accepting every reading. */
export function acceptAll(body: unknown, duplicateIds: ReadonlySet<string> = new Set()) {
  const readings = (body as { readings: { reading_id: string }[] }).readings;
  return {
    accepted: readings.length,
    rejected: 0,
    results: readings.map((r, index) => ({
      index,
      status: 'accepted',
      stream_id: `1-${index}`,
      duplicate: duplicateIds.has(r.reading_id),
    })),
  };
}

export const unavailable = { error: 'unavailable', message: 'Redis is unavailable; retry later' };

/** Fast retries for tests: same logic, millisecond waits. */
export const quickRetry = { maxAttempts: 4, maxElapsedMs: 5_000, baseDelayMs: 5, maxDelayMs: 20 };

/** The first ```js block of the "Send readings from a Node device" section of docs/sdk.md. */
export function readmeExample(): string {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/sdk.md', import.meta.url)), 'utf8');
  const section = doc.split('\n## Send readings from a Node device\n')[1]?.split('\n## ')[0];
  const code = section && /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('docs/sdk.md has no ```js example under "Send readings from a Node device"');
  return code;
}
