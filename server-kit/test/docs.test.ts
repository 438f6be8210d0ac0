import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { ingestContract } from '@energy-pipeline/contract';
import { installDocs } from '@energy-pipeline/server-kit';

type Doc = {
  info: { description?: string };
  paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: { example: { timestamp: string } } }> } }>>;
};

async function docsApp(authEnabled: boolean, clock: { ms: number }) {
  const app = Fastify();
  installDocs(app, { contract: ingestContract, info: { title: 'ingest', version: '1' }, authEnabled, now: () => clock.ms });
  await app.ready();
  const get = async (url: string) => (await app.inject({ method: 'GET', url })).json() as Doc;
  const exampleTime = (doc: Doc) => doc.paths['/readings']!.post!.requestBody.content['application/json']!.schema.example.timestamp;
  return { app, get, exampleTime };
}

describe('the docs plugin', () => {
  it('serves the example reading timestamped at the time of the request, on /openapi.json and to Swagger UI', async () => {
    const clock = { ms: Date.parse('2030-05-06T07:08:09.400Z') };
    const { app, get, exampleTime } = await docsApp(true, clock);
    try {
      expect(exampleTime(await get('/openapi.json'))).toBe('2030-05-06T07:08:09Z');
      // Days later, in the same process: still "now", not the time the document was built.
      clock.ms += 3 * 86_400_000 + 1_700;
      expect(exampleTime(await get('/openapi.json'))).toBe('2030-05-09T07:08:11Z');
      expect(exampleTime(await get('/docs/json'))).toBe('2030-05-09T07:08:11Z');
      const yaml = (await app.inject({ method: 'GET', url: '/docs/yaml' })).body;
      expect(yaml).toContain('2030-05-09T07:08:11Z');
      expect(yaml).not.toContain('2030-05-06T07:08:09Z');
    } finally {
      await app.close();
    }
  });

  it("says on the document whether the service's auth is on", async () => {
    for (const [enabled, text] of [[true, 'Auth is on'], [false, 'Auth is OFF']] as const) {
      const { app, get } = await docsApp(enabled, { ms: Date.now() });
      try {
        expect((await get('/openapi.json')).info.description).toContain(text);
        expect((await get('/docs/json')).info.description).toContain(text);
      } finally {
        await app.close();
      }
    }
  });
});
