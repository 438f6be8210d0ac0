import { connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { createLogger, installHttpDefaults, serverOptions, SLOW_REQUEST_MS } from '@energy-pipeline/server-kit';

describe('shared server options', () => {
  it('logs requests with their request id, but not routine probes and scrapes', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = Fastify(serverOptions(createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line)) } }), { bodyLimit: 1024, accessLog: 'all' }));
    installHttpDefaults(app);
    app.get('/health', async () => ({ ok: true }));
    app.get('/metrics', async () => ({ ok: true }));
    app.post('/readings', async () => ({ ok: true }));
    await app.inject({ method: 'GET', url: '/health' });
    await app.inject({ method: 'GET', url: '/metrics?x=1' });
    await app.inject({ method: 'POST', url: '/readings', payload: {}, headers: { 'x-request-id': 'gw-42', authorization: 'Bearer secret-token' } });
    await app.close();

    // One line per request, with the request, its status and time: Fastify's "incoming request" is at debug.
    expect(lines.filter((l) => l.msg === 'incoming request')).toEqual([]);
    const requests = lines.filter((l) => l.msg === 'request completed');
    expect(requests.map((l) => (l.req as { method: string; url: string }).url)).toEqual(['/readings']);
    expect(requests[0]).toMatchObject({ reqId: 'gw-42', req: { method: 'POST' }, res: { statusCode: 200 }, responseTime: expect.any(Number) });
    expect(JSON.stringify(lines)).not.toContain('secret-token');
  });

  it('by default (ACCESS_LOG=failures) logs only requests answered 4xx or 5xx, and slow ones', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = Fastify(serverOptions(createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line)) } })));
    installHttpDefaults(app);
    app.post('/readings', async () => ({ ok: true }));
    app.get('/slow', async () => new Promise((resolve) => setTimeout(() => resolve({ ok: true }), SLOW_REQUEST_MS + 50)));
    app.get('/broken', async () => {
      throw new Error('boom');
    });
    await app.inject({ method: 'POST', url: '/readings', payload: {} });
    await app.inject({ method: 'POST', url: '/readings', payload: '{', headers: { 'content-type': 'application/json' } });
    await app.inject({ method: 'GET', url: '/broken' });
    await app.inject({ method: 'GET', url: '/nowhere' });
    await app.inject({ method: 'GET', url: '/slow' });
    await app.close();
    const completed = lines.filter((l) => l.msg === 'request completed');
    expect(completed.map((l) => [(l.req as { url: string }).url, (l.res as { statusCode: number }).statusCode])).toEqual([
      ['/readings', 400],
      ['/broken', 500],
      ['/nowhere', 404],
      ['/slow', 200],
    ]);
  });

  it('logs no request with ACCESS_LOG=off, but still what handlers log', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = Fastify(serverOptions(createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line)) } }), { accessLog: 'off' }));
    installHttpDefaults(app);
    app.get('/broken', async () => {
      throw new Error('boom');
    });
    await app.inject({ method: 'GET', url: '/broken' });
    await app.close();
    expect(lines.filter((l) => l.msg === 'request completed')).toEqual([]);
    expect(lines.filter((l) => l.msg === 'request failed')).toHaveLength(1);
  });

  it('logs an event stream when it starts too: its end may be hours away', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = Fastify(serverOptions(createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line)) } }), { bodyLimit: 1024, accessLog: 'all' }));
    app.get('/events', async () => ({ ok: true }));
    await app.inject({ method: 'GET', url: '/events', headers: { accept: 'text/event-stream' } });
    await app.inject({ method: 'GET', url: '/events', headers: { accept: 'application/json' } });
    await app.close();
    const incoming = lines.filter((l) => l.msg === 'incoming request');
    expect(incoming).toHaveLength(1);
    expect(incoming[0]).toMatchObject({ req: { url: '/events' } });
    expect(lines.filter((l) => l.msg === 'request completed')).toHaveLength(2);
  });

  it('logs the incoming request too at debug', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = Fastify(serverOptions(createLogger({ level: 'debug', destination: { write: (line: string) => lines.push(JSON.parse(line)) } }), { bodyLimit: 1024, accessLog: 'all' }));
    app.post('/readings', async () => ({ ok: true }));
    await app.inject({ method: 'POST', url: '/readings', payload: {} });
    await app.close();
    expect(lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed').map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
  });
});

/** Sends raw bytes and reads until the server closes the connection. */
function rawExchange(port: number, bytes: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head, body });
    });
    socket.write(bytes);
  });
}

describe("answers to what Node's HTTP parser refuses", () => {
  const start = async (extra: Record<string, unknown> = {}) => {
    const app = Fastify({ ...serverOptions(createLogger({ level: 'silent' })), ...extra });
    installHttpDefaults(app);
    app.get('/health', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, port: (app.server.address() as AddressInfo).port };
  };

  it.each([
    ['a malformed request line', 'GARBAGE\r\n\r\n', 400, 'bad_request'],
    ['a header without a colon', 'GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n', 400, 'bad_request'],
    ['an oversized header', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
  ])('answers %s with the shared error body and closes', async (_, bytes, status, error) => {
    const { app, port } = await start();
    try {
      const res = await rawExchange(port, bytes);
      expect(res.status).toBe(status);
      expect(res.headers).toMatch(/^content-type: application\/json/im);
      expect(res.headers).toMatch(/^connection: close/im);
      expect(JSON.parse(res.body)).toEqual({ error, message: expect.any(String) });
      // Still serving everyone else.
      expect((await rawExchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('answers a request that does not arrive in time with 408 and the shared error body', async () => {
    // requestTimeout is 30 s in production; shortened here, with Node checking every 50 ms.
    const { app, port } = await start({ requestTimeout: 200, http: { connectionsCheckingInterval: 50 } });
    try {
      const res = await rawExchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\n'); // headers never end
      expect(res.status).toBe(408);
      expect(JSON.parse(res.body)).toEqual({ error: 'request_timeout', message: expect.any(String) });
    } finally {
      await app.close();
    }
  });
});
