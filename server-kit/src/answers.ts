import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody, ErrorCode, WriteOutcome } from '@energy-pipeline/contract';

/**
 * The answers routes give for expected failures, typed for ts-rest's `{ status, body }` and
 * built here once, so that every 503 (or 404) of both services reads the same.
 */

/** Retry-After for a Redis outage: reconnecting takes about a second. */
export const REDIS_RETRY_AFTER_S = 1;

/** Redis cannot serve, or the service sheds load. `outcome` on writes: whether anything may have been stored. */
export function unavailable(message: string, outcome?: WriteOutcome) {
  return { status: 503 as const, body: { error: 'unavailable', message, ...(outcome ? { outcome } : {}) } satisfies ErrorBody };
}

export function notFound(message: string) {
  return { status: 404 as const, body: { error: 'not_found', message } satisfies ErrorBody };
}

export function forbidden(message: string) {
  return { status: 403 as const, body: { error: 'forbidden', message } satisfies ErrorBody };
}

/**
 * Requests a hook has already answered. A reply sent from a hook counts as `sent` only once its
 * onSend hooks have run, so Fastify still calls the hooks after it; those that count or charge
 * (the rate limiter) ask here, so that a request refused for auth or load costs no budget.
 */
const answeredByHook = new WeakSet<FastifyRequest>();

export function answeredInHook(request: FastifyRequest): boolean {
  return answeredByHook.has(request);
}

/** Sends a refusal from a hook (no ts-rest response there) and marks the request answered. */
export function refuseInHook(reply: FastifyReply, status: number, body: ErrorBody) {
  answeredByHook.add(reply.request);
  return reply.status(status).send(body);
}

/** The 503 from a hook: status, Retry-After and the shared body. */
export function sendUnavailable(reply: FastifyReply, retryAfterS: number, message: string, outcome?: WriteOutcome) {
  const { status, body } = unavailable(message, outcome);
  return refuseInHook(reply.header('retry-after', String(retryAfterS)), status, body);
}

/**
 * The servers' base error: a failure with one of the contract's codes. Routes turn the ones they
 * expect into typed answers; anything else reaches the global error handler (http.ts).
 */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
