import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { LogController } from 'fastify';
import { pino, type LoggerOptions as LoggerOptions_ } from 'pino';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { codeOfStatus, toIssues, validationError, type ErrorBody, type Issue } from '@energy-pipeline/contract';

interface IssueSource {
  issues: readonly { message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }[];
}

/** ts-rest's request validation error, typed structurally to avoid depending on @ts-rest/fastify here. */
interface RequestValidationErrorLike {
  body: IssueSource | null;
  query: IssueSource | null;
  pathParams: IssueSource | null;
  headers: IssueSource | null;
}

/** Gives ts-rest validation failures the shared error body, naming each wrong field. */
export function requestValidationErrorHandler(err: RequestValidationErrorLike, _request: FastifyRequest, reply: FastifyReply) {
  const issues: Issue[] = [
    ...toIssues('body', err.body?.issues ?? []),
    ...toIssues('query', err.query?.issues ?? []),
    ...toIssues('params', err.pathParams?.issues ?? []),
    ...toIssues('headers', err.headers?.issues ?? []),
  ];
  return reply.status(400).send(validationError(issues));
}


/**
 * What both services share at the HTTP edge:
 * - JSON only: Fastify's text/plain parser is removed, so any other body type gets 415
 *   rather than a confusing 400 about a string that is not an object;
 * - one error handler for everything the routes did not answer themselves: client errors
 *   raised by Fastify (bad JSON, too large, wrong content type) keep their 4xx status and say
 *   why; anything else is logged in full and answered with a 500 that reveals nothing;
 * - a 404 with the shared error body.
 */
export function installHttpDefaults(app: FastifyInstance) {
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      request.log.info({ code: err.code, reason: err.message }, 'request rejected');
      const body: ErrorBody = { error: codeOfStatus(status), message: err.message };
      if (status === 400) body.issues = [{ in: 'body', path: '', message: err.message }];
      return reply.status(status).send(body);
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: 'internal_error', message: 'Internal server error' } satisfies ErrorBody);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: 'not_found', message: `No route ${request.method} ${request.url.split('?')[0]}` }),
  );
}

/** What Node's HTTP parser refuses before Fastify sees a request, by error code; anything else is a 400. */
const clientErrors: Record<string, [status: number, message: string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'The request was not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'The request headers are too large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'The chunk extensions are too large'],
};

/**
 * Answers what Node's HTTP parser refuses (a malformed request line or header, headers past
 * the size limit, a request not received within requestTimeout) with the shared error body,
 * where Node and Fastify would send a body of their own shape, then closes the connection: after
 * a parse error nothing more can be read from it. Like Node, it writes nothing when the socket
 * is gone or a response on it has already begun.
 */
export function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Duplex) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] = clientErrors[err.code ?? ''] ?? [400, 'The request is not valid HTTP'];
  this.log.info({ code: err.code, status }, 'malformed request refused');
  const response = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const body = JSON.stringify({ error: codeOfStatus(status), message } satisfies ErrorBody);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

export type LogFormat = 'json' | 'pretty';

const ROUTINE_PATHS = new Set(['/health', '/metrics']);

/** GET /health and GET /metrics: probes and scrapes, not worth a log line each. */
export const isRoutineRequest = (request: { method: string; url: string }) =>
  request.method === 'GET' && ROUTINE_PATHS.has(request.url.split('?')[0]!);

export interface LoggerOptions {
  level: string;
  /** `pretty` (pino-pretty, for a person at a terminal: npm start sets it) or `json` (for log collectors). @default 'json' */
  format?: LogFormat;
  /** Where lines go instead of stdout (tests read them). @default stdout */
  destination?: { write(line: string): void };
}

/**
 * The service's logger, made before its app so that what main.ts builds beside the app (the
 * processor's worker) logs through the same one. Keys are never logged: the Authorization and
 * X-API-Key headers are redacted.
 */
export function createLogger({ level, format = 'json', destination }: LoggerOptions): FastifyBaseLogger {
  const options: LoggerOptions_ = {
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]'], censor: '[redacted]' },
    // A worker thread formats the lines; pino-pretty is a development dependency only.
    ...(format === 'pretty' && !destination
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
  if (destination) return pino(options, destination);
  if (options.transport) return pino(options);
  // Asynchronous writes to stdout: lines written while one write is in flight go out together,
  // instead of a write syscall per line on the request path (profiled: docs/performance.md). pino flushes
  // what is buffered when the process exits, a crash included.
  return pino(options, pino.destination({ dest: 1, sync: false }));
}

/** A request that stays open for a stream of events (SSE subscriptions): its end may be hours away. */
const isEventStream = (request: FastifyRequest) => request.headers.accept?.includes('text/event-stream') === true;

/**
 * Which requests get an access line ("request completed": the request, its status, its time and
 * its request id), ACCESS_LOG:
 * - `failures` (the default): requests answered 4xx or 5xx, or slower than SLOW_REQUEST_MS. A
 *   device fleet's accepted writes are tens of thousands a second; each is already counted in
 *   the metrics (`http_request_duration_seconds`, `ep_ingest_readings_accepted_total`) and kept in the stream
 *   itself, and a line each was a fair share of ingest's CPU per request (`npm run bench:profile
 *   -- --only ablate`; docs/performance.md). InfluxDB's `access-log-status-filters = ["4xx", "5xx"]` is the same choice.
 * - `all`: every request (`npm start` sets it, for a person trying the API).
 * - `off`: none; what the handlers log themselves (refusals, Redis failures) still shows.
 */
export type AccessLog = 'all' | 'failures' | 'off';

/** A successful request this slow still gets its line under ACCESS_LOG=failures. */
export const SLOW_REQUEST_MS = 1000;

/**
 * One line per request, where Fastify writes two: its "incoming request" line moves to debug.
 * Event streams keep their "incoming request" line at info: they would otherwise show only when
 * they close. Which requests get the "request completed" line is ACCESS_LOG's (AccessLog).
 */
class AccessLogController extends LogController {
  constructor(
    private readonly accessLog: AccessLog,
    options: ConstructorParameters<typeof LogController>[0],
  ) {
    super(options);
  }

  override incomingRequest(request: FastifyRequest) {
    if (this.isLogDisabled(request)) return;
    if (isEventStream(request)) request.log.info({ req: request }, 'incoming request');
    else request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    if (this.accessLog === 'off' || this.isLogDisabled(request)) return;
    if (this.accessLog === 'failures' && !error && reply.statusCode < 400 && reply.elapsedTime < SLOW_REQUEST_MS) return;
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

export interface ServerOptions {
  /** Largest request body accepted, in bytes (after decompression). @default 1048576 */
  bodyLimit?: number;
  /** Which requests get an access line (AccessLog). @default 'failures' */
  accessLog?: AccessLog;
}

/**
 * Fastify's options for both services: `logger` from createLogger, request ids taken from
 * `x-request-id` (so a gateway's id follows the reading) or made up, bounded bodies and requests.
 */
export function serverOptions(logger: FastifyBaseLogger, { bodyLimit = 1_048_576, accessLog = 'failures' }: ServerOptions = {}) {
  return {
    loggerInstance: logger,
    // Probes and scrapes arrive every few seconds from every kubelet and Prometheus: logging each
    // would drown the requests that matter. Their failures still show (handlers log them).
    logController: new AccessLogController(accessLog, { disableRequestLogging: isRoutineRequest }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit,
    // Answer a slow or stalled client within bounds instead of holding a socket for ever.
    requestTimeout: 30_000,
    clientErrorHandler,
    return503OnClosing: true,
  };
}
