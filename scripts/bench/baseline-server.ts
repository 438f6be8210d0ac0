/**
 * The single-route baseline, run as its own process by the bench: what a ts-rest route on
 * Fastify 5 costs when it does nothing but validate the seed's reading schema and make one
 * auto-pipelined XADD. No auth, limits, metrics, logging or idempotency: the ceiling that
 * POST /readings is measured against.
 *
 * Env: REDIS_URL, STREAM, PORT (all required).
 */
import Fastify from 'fastify';
import { initContract } from '@ts-rest/core';
import { initServer } from '@ts-rest/fastify';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { encodeReading } from '@energy-pipeline/contract';

const { REDIS_URL, STREAM, PORT } = process.env;
if (!REDIS_URL || !STREAM || !PORT) throw new Error('baseline-server needs REDIS_URL, STREAM and PORT');

// The seed's model: four fields, strings, a float and a date-time.
const SeedReading = z.object({
  site_id: z.string(),
  device_id: z.string(),
  power_reading: z.number(),
  timestamp: z.iso.datetime({ offset: true }),
});

const c = initContract();
const contract = c.router({
  postReading: {
    method: 'POST',
    path: '/readings',
    body: SeedReading,
    responses: { 202: z.object({ status: z.literal('success'), stream_id: z.string(), message: z.string() }) },
  },
  health: { method: 'GET', path: '/health', responses: { 200: z.object({ status: z.literal('ok') }) } },
});

const redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
const app = Fastify({ logger: false });
const s = initServer();
app.register(
  s.plugin(
    s.router(contract, {
      postReading: async ({ body }) => {
        const id = (await redis.xadd(STREAM, '*', ...encodeReading(body, Date.now()))) as string;
        return { status: 202, body: { status: 'success', stream_id: id, message: 'Reading successfully ingested' } };
      },
      health: async () => ({ status: 200, body: { status: 'ok' } }),
    }),
  ),
);

process.once('SIGTERM', () => {
  void app.close().then(() => {
    redis.disconnect();
    process.exit(0);
  });
});
await app.listen({ host: '127.0.0.1', port: Number(PORT) });
