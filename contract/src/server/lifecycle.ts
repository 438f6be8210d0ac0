import type { FastifyInstance } from 'fastify';

export interface ServeOptions {
  host: string;
  port: number;
  /** Upper bound on a graceful stop; past it the process exits anyway. @default 10000 */
  shutdownTimeoutMs: number;
  /** Runs before the server closes on SIGTERM/SIGINT, e.g. to drain a consumer. */
  onShutdown?: () => Promise<void>;
}

/**
 * Listens and stops cleanly on SIGTERM or SIGINT: stop taking work, finish what is in
 * flight, close connections, exit 0; or exit 1 when that takes longer than the bound,
 * because Kubernetes will SIGKILL a pod that overstays its grace period anyway.
 */
export async function serveUntilSignal(app: FastifyInstance, options: ServeOptions): Promise<void> {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.error({ timeoutMs: options.shutdownTimeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, options.shutdownTimeoutMs);
    timer.unref();
    try {
      await options.onShutdown?.();
      await app.close();
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    app.log.fatal({ err }, 'could not listen');
    process.exit(1);
  }
}
