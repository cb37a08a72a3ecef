import type { Logger } from './core/logger.ts';
import type { HeraldServer } from './server.ts';

/**
 * The last resort of a running `herald serve`: an exception no handler caught is logged and the hub
 * keeps serving its other clients, so no client's input can ever end the process. Installed once the
 * hub listens: failures while starting still exit 1.
 */
export function keepServingThroughFaults(log: Logger): void {
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception; still serving'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection; still serving'));
}

/**
 * SIGTERM and SIGINT drain the server and exit 0. A drain that has not finished after `timeoutMs`
 * (a peer that never lets go, a broker that does not answer) exits 1 anyway: a stop is never ignored.
 */
export function stopOnSignals(server: HeraldServer, log: Logger, timeoutMs: number): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining connections');
    setTimeout(() => {
      log.error({ timeoutMs }, 'drain did not finish in time; exiting');
      process.exit(1);
    }, timeoutMs).unref();
    await server.close();
    log.info({}, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
