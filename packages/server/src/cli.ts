import { Command, InvalidArgumentError } from 'commander';
import { type Logger, pino } from 'pino';
import { redactBrokerUrl } from './brokers/redis-broker.ts';
import { ConfigError, type HeraldConfigInput, parseConfig } from './config.ts';
import { configFromEnv, loadConfigFile, logLevelFromEnv, PORT_RULE, parsePort } from './config-sources.ts';
import { logDestination } from './log-destination.ts';
import { keepServingThroughFaults, stopOnSignals } from './process-lifecycle.ts';
import { HeraldServer } from './server.ts';
import { version } from './version.ts';

/** How long SIGTERM waits for connections to drain before exiting anyway. */
const DRAIN_TIMEOUT_MS = 10_000;

function portFlag(value: string): number {
  const port = parsePort(value);
  if (port === undefined) throw new InvalidArgumentError(PORT_RULE);
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
  let server: HeraldServer;
  let log: Logger;
  try {
    log = pino({ level: logLevelFromEnv() }, logDestination());
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

const ENVIRONMENT_HELP = `
Environment (a flag wins over its variable, a variable over the config file):
  HERALD_PORT          as --port
  HERALD_HOST          as --host
  HERALD_BROKER        as --broker
  HERALD_API_KEY       key the server API (/api/*), /metrics and /admin require, as
                       "Authorization: apikey KEY" (default unset: they accept unauthenticated calls,
                       and a non-loopback --host refuses to start)
  HERALD_METRICS_KEY   a second key that opens /metrics only (default unset)
  HERALD_INSECURE      1: as --insecure (default 0)
  HERALD_TOKEN_SECRET  HS256 secret, at least 32 characters, for connection and subscription tokens
                       (default unset: no HS256 tokens)
  HERALD_LOG_LEVEL     trace | debug | info | warn | error | fatal | silent (default info)
  HERALD_PUSHER_APP_ID      with the next two (all three, or none): one Pusher app, pusher-js on
  HERALD_PUSHER_APP_KEY     /app/{key} and the server SDKs on /apps/{id} (default unset: no Pusher
  HERALD_PUSHER_APP_SECRET  protocol; see docs/pusher.md)
  HERALD_WEBHOOK_URL        an endpoint for lifecycle webhooks (docs/webhooks.md), with
  HERALD_WEBHOOK_SECRET     its whsec_… signing secret (default unset: no webhooks)

Every other setting (namespaces, limits, sse, poll, authProxy, RS256/ES256 keys, pusher, webhooks…) is in
the config file; see herald.example.json in the @herald/server package.`;

const program = new Command('herald')
  .description('Herald real-time hub')
  .version(version, '-v, --version', 'print the version')
  .showHelpAfterError();
program
  .command('serve')
  .description('run the hub: WebSocket, SSE, long-polling and the HTTP API on one port')
  .option('-p, --port <port>', 'port to listen on (env HERALD_PORT, default 8080)', portFlag)
  .option('-H, --host <host>', 'interface to bind (env HERALD_HOST, default 127.0.0.1)')
  .option('-b, --broker <broker>', 'memory | redis://host:port (env HERALD_BROKER, default memory)')
  .option('-c, --config <file>', 'JSON config file: namespaces, limits, auth… (default none)')
  .option('--insecure', 'allow a non-loopback --host without HERALD_API_KEY (env HERALD_INSECURE=1)')
  .addHelpText('after', ENVIRONMENT_HELP)
  .action(serve);

// Not a top-level await: the standalone binary runs this module as CommonJS.
void program.parseAsync(process.argv);
