import closeWithGrace from 'close-with-grace';
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
 * Listens and stops cleanly on SIGTERM or SIGINT (and the other terminating signals), and on an
 * uncaught exception or unhandled rejection: stop taking work, finish what is in flight, close
 * connections, exit 0 (1 after an error or a fault); exit 1 when that takes longer than the bound,
 * because Kubernetes will SIGKILL a pod that overstays its grace period anyway, or on a second
 * signal (Ctrl-C twice). close-with-grace does the signal and timer handling.
 */
export async function serveUntilSignal(app: FastifyInstance, options: ServeOptions): Promise<void> {
  let fault: Error | undefined;
  const log = app.log;
  const graceful = closeWithGrace(
    {
      delay: options.shutdownTimeoutMs,
      logger: { error: (message: unknown) => log.error(message instanceof Error ? { err: message } : { message }, 'shutdown') },
      onTimeout: (timeoutMs) => log.error({ timeoutMs }, 'shutdown took too long; exiting'),
    },
    async ({ signal, err }) => {
      if (fault ?? err) log.fatal({ err: fault ?? err }, 'shutting down');
      else log.info({ signal }, 'shutting down');
      await options.onShutdown?.();
      await app.close();
      // close-with-grace exits 0 after a manual close; a fault must exit 1 so the restart shows.
      if (fault) throw fault;
    },
  );
  faultStops.set(app, (err) => {
    fault ??= err;
    void graceful.close();
  });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    // A failed start check (e.g. an evicting Redis) lands here too, with its own message.
    log.fatal({ err }, 'could not start');
    process.exit(1);
  }
}
