import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { installHttpDefaults, serverOptions } from '@energy-pipeline/contract/server';

describe('shared server options', () => {
  it('logs requests with their request id, but not routine probes and scrapes', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = Fastify(serverOptions('info', 1024, { write: (line) => lines.push(JSON.parse(line)) }));
    installHttpDefaults(app);
    app.get('/health', async () => ({ ok: true }));
    app.get('/metrics', async () => ({ ok: true }));
    app.post('/readings', async () => ({ ok: true }));
    await app.inject({ method: 'GET', url: '/health' });
    await app.inject({ method: 'GET', url: '/metrics?x=1' });
    await app.inject({ method: 'POST', url: '/readings', payload: {}, headers: { 'x-request-id': 'gw-42', authorization: 'Bearer secret-token' } });
    await app.close();

    const requests = lines.filter((l) => l.msg === 'incoming request');
    expect(requests.map((l) => (l.req as { url: string }).url)).toEqual(['/readings']);
    expect(requests[0]!.reqId).toBe('gw-42');
    expect(JSON.stringify(lines)).not.toContain('secret-token');
  });
});
