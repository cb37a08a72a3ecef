import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { redactBrokerUrl } from './brokers/redis-broker.ts';
import { ConfigError, configFromEnv, type HeraldConfigInput, loadConfigFile, parseConfig } from './config.ts';
import { logDestination } from './log-destination.ts';
import { keepServingThroughFaults, stopOnSignals } from './process-lifecycle.ts';
import { HeraldServer } from './server.ts';

/** How long SIGTERM waits for connections to drain before exiting anyway. */
const DRAIN_TIMEOUT_MS = 10_000;

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535)
    throw new InvalidArgumentError('must be an integer from 0 to 65535');
  return port;
}

interface ServeFlags {
  port?: number;
  host?: string;
  broker?: string;
  config?: string;
  insecure?: boolean;
}

/** Precedence: flags, then environment, then the config file, then defaults. */
async function resolveConfig(flags: ServeFlags) {
  const file: HeraldConfigInput = flags.config ? await loadConfigFile(flags.config) : {};
  const merged: HeraldConfigInput = { ...file, ...configFromEnv() };
  if (flags.port !== undefined) merged.port = flags.port;
  if (flags.host !== undefined) merged.host = flags.host;
  if (flags.broker !== undefined) merged.broker = flags.broker;
  if (flags.insecure) merged.allowUnauthenticatedApi = true;
  return parseConfig(merged, flags.config ? `config file ${flags.config}` : 'configuration');
}

async function serve(flags: ServeFlags): Promise<void> {
  const log = pino({ level: process.env.HERALD_LOG_LEVEL ?? 'info' }, logDestination());
  let server: HeraldServer;
  try {
    const config = await resolveConfig(flags);
    server = await HeraldServer.create({ config, logger: log });
    try {
      await server.listen();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const where = `${config.host}:${config.port}`;
      if (e.code === 'EADDRINUSE') throw new ConfigError(`port ${config.port} is already in use (${where})`);
      if (e.code === 'EACCES') throw new ConfigError(`no permission to listen on ${where}`);
      if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND')
        throw new ConfigError(`cannot listen on host ${config.host}`);
      throw err;
    }
    if (!config.apiKey)
      log.warn('HERALD_API_KEY is not set: the server API (/api/*) accepts unauthenticated calls');
  } catch (err) {
    process.stderr.write(`herald: ${err instanceof ConfigError ? err.message : (err as Error).stack}\n`);
    process.exit(1);
  }
  keepServingThroughFaults(log);
  stopOnSignals(server, log, DRAIN_TIMEOUT_MS);
  log.info({ url: server.url, broker: redactBrokerUrl(server.hub.config.broker) }, 'herald is listening');
}

const program = new Command('herald').description('Herald real-time hub').showHelpAfterError();
program
  .command('serve')
  .description('run the hub: WebSocket, SSE, long-polling and the HTTP API on one port')
  .option('-p, --port <port>', 'port to listen on (env HERALD_PORT, default 8080)', parsePort)
  .option('-H, --host <host>', 'interface to bind (env HERALD_HOST, default 127.0.0.1)')
  .option('-b, --broker <broker>', 'memory | redis://host:port (env HERALD_BROKER, default memory)')
  .option('-c, --config <file>', 'JSON config file (namespaces and limits)')
  .option('--insecure', 'allow a non-loopback --host without HERALD_API_KEY (env HERALD_INSECURE=1)')
  .action(serve);

await program.parseAsync(process.argv);
