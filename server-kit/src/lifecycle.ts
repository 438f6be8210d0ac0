import type { FastifyInstance } from 'fastify';

export interface ServeOptions {
  host: string;
  port: number;
  /** Upper bound on a graceful stop; past it the process exits anyway. @default 10000 */
  shutdownTimeoutMs: number;
  /** Runs before the server closes on SIGTERM/SIGINT, e.g. to drain a consumer. */
  onShutdown?: () => Promise<void>;
}

/** How to stop the process serving an app, for stopFaulted; set by serveUntilSignal. */
const faultStops = new WeakMap<FastifyInstance, (err: Error) => void>();

/**
 * Stops because the app found, while running, a condition it must not run under (e.g. an
 * evicting Redis): the process serving it drains as on SIGTERM and exits 1, so that the
 * orchestrator restarts it and the restart reports the condition. An app that is not served by
 * serveUntilSignal (tests using inject) is closed instead.
 */
export function stopFaulted(app: FastifyInstance, err: Error): void {
  const stop = faultStops.get(app);
  if (stop) stop(err);
  else {
    app.log.fatal({ err }, 'stopping');
    void app.close();
  }
}

/**
 * Listens and stops cleanly on SIGTERM or SIGINT: stop taking work, finish what is in
 * flight, close connections, exit 0; or exit 1 when that takes longer than the bound,
 * because Kubernetes will SIGKILL a pod that overstays its grace period anyway.
 */
export async function serveUntilSignal(app: FastifyInstance, options: ServeOptions): Promise<void> {
  let stopping = false;
  const stop = async (signal: string, fault?: Error) => {
    if (stopping) return;
    stopping = true;
    if (fault) app.log.fatal({ err: fault }, 'shutting down');
    else app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.error({ timeoutMs: options.shutdownTimeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, options.shutdownTimeoutMs);
    timer.unref();
    try {
      await options.onShutdown?.();
      await app.close();
      process.exit(fault ? 1 : 0);
    } catch (err) {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  faultStops.set(app, (err) => void stop('fault', err));
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    // A failed start check (e.g. an evicting Redis) lands here too, with its own message.
    app.log.fatal({ err }, 'could not start');
    process.exit(1);
  }
}
