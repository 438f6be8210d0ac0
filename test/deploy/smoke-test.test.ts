/**
 * The `helm test` script's use of keys: the write key on ingest, the read key on the processor.
 * Two small HTTP stand-ins record what it sends (the services' own auth is tested with them;
 * image-steps.test.ts runs this script against the real services).
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { chartDir } from './helm.js';

const run = promisify(execFile);
const script = join(chartDir, 'files/smoke-test.mjs');

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function stub(answer: (req: IncomingMessage, body: string) => [number, unknown]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      const [status, json] = answer(req, body);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

/** An ingest that accepts, and a processor that has applied what was posted. */
async function pipeline(processorStatus = 200) {
  let posted: { power_reading: number } | null = null;
  const ingest = await stub((_req, body) => {
    posted = JSON.parse(body);
    return [202, { status: 'success', stream_id: '1-0', message: 'ok' }];
  });
  const processor = await stub(() =>
    processorStatus !== 200
      ? [processorStatus, { error: 'unauthorized', message: 'The API key is not valid' }]
      : [200, { count: 1, latest: { stream_id: '1-0', power_reading: posted?.power_reading } }],
  );
  return { ingest, processor };
}

async function smoke(env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, [script], { env: { PATH: process.env['PATH'] ?? '', TIMEOUT_S: '20', ...env } });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

describe('helm test script', () => {
  it('posts with the write key and reads back with the read key', async () => {
    const { ingest, processor } = await pipeline();
    const out = await smoke({ INGEST_URL: ingest.url, PROCESS_URL: processor.url, API_KEY: 'writer', READ_API_KEY: 'reader' });
    expect(out.output).toContain('ok: read back helm-test-');
    expect(out.code).toBe(0);
    expect(ingest.seen).toEqual([{ method: 'POST', url: '/readings', authorization: 'Bearer writer' }]);
    expect(processor.seen[0]).toMatchObject({ method: 'GET', authorization: 'Bearer reader' });
    expect(processor.seen[0]!.url).toMatch(/^\/sites\/helm-test\/devices\/helm-test-/);
  });

  it('reads back with the one key it has when no read key is given, and sends none when auth is off', async () => {
    const one = await pipeline();
    expect((await smoke({ INGEST_URL: one.ingest.url, PROCESS_URL: one.processor.url, API_KEY: 'both' })).code).toBe(0);
    expect(one.processor.seen[0]!.authorization).toBe('Bearer both');
    const none = await pipeline();
    expect((await smoke({ INGEST_URL: none.ingest.url, PROCESS_URL: none.processor.url })).code).toBe(0);
    expect([...none.ingest.seen, ...none.processor.seen].map((s) => s.authorization)).toEqual([undefined, undefined]);
  });

  it('fails at once, naming the key to fix, when a key is refused', async () => {
    const { ingest, processor } = await pipeline(401);
    const out = await smoke({ INGEST_URL: ingest.url, PROCESS_URL: processor.url, API_KEY: 'writer', READ_API_KEY: 'wrong' });
    expect(out.code).toBe(1);
    expect(out.output).toMatch(/failed: 401 unauthorized .*readKey/);
    // One attempt, not retries until the timeout: waiting does not fix a key.
    expect(processor.seen).toHaveLength(1);
  });
});
