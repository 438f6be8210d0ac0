/**
 * @energy-pipeline/client: the typed SDK for the energy-pipeline ingest and processor APIs.
 * Runs wherever `fetch` exists (Node 20+, Deno, Bun, browsers, workers); the file spool and the
 * CLI, which need Node, live in `@energy-pipeline/client/node` and the `energy-pipeline` bin.
 */
export { EnergyPipelineClient, type EnergyPipelineClientOptions } from './client.js';
export {
  ReadingBuffer,
  type BufferOptions,
  type BufferSetup,
  type BufferStats,
  type BufferStore,
  type OverflowPolicy,
  type SendBatch,
} from './buffer.js';
export type { ContractClient, RouteAnswer, RouteArgs, RouteCall } from './contract-client.js';
export {
  AuthError,
  BufferClosedError,
  BufferFullError,
  EnergyPipelineError,
  type ErrorKind,
  HttpError,
  NetworkError,
  RateLimitedError,
  TimeoutError,
  UnavailableError,
  ValidationError,
} from './errors.js';
export type {
  AcceptedReading,
  IdentifiedReading,
  ReadingInput,
  ReadingResult,
  RejectedReading,
  SendReadingResult,
  SendReadingsOptions,
  SendReadingsResult,
  UnconfirmedReading,
} from './readings.js';
export { DEFAULT_RETRY, isRetryable, type RetryOptions } from './retry.js';
export type { SequenceStore } from './sequence.js';
export type { CallOptions, RouteCallOptions } from './transport.js';
export { createWatch, type Watch, type WatchConfig, type WatchOptions } from './watch.js';
export type { LiveRouter } from '@energy-pipeline/process/live';
export type {
  ErrorBody,
  FleetLive,
  FleetSite,
  IngestContract,
  Issue,
  LiveDevice,
  LiveEnergy,
  LiveNotice,
  LiveReading,
  PipelineLive,
  PipelineShard,
  ProcessContract,
  Reading,
  SiteEvent,
  SiteLive,
  StoredBefore,
  TailEvent,
  WriteOutcome,
} from '@energy-pipeline/contract';
export { ingestContract, processContract, ReadingSchema } from '@energy-pipeline/contract';
export { formatAgo, formatRate, formatSeconds, formatWattHours, formatWatts } from './format.js';
