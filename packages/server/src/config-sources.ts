import { readFile } from 'node:fs/promises';
import { ConfigError, type HeraldConfigInput, WebhookEndpointSchema } from './config.ts';

/*
 * Where config comes from beside the code: the `HERALD_*` environment (`herald serve` and embedded hubs),
 * a config file and `--port`, each refused with a ConfigError that names the variable or file.
 */

export const PORT_RULE = 'must be an integer from 0 to 65535';

/** A TCP port written as text (`--port`, `HERALD_PORT`): digits only, 0 to 65535; otherwise undefined. */
export function parsePort(text: string): number | undefined {
  const port = Number(text);
  return /^\d+$/.test(text) && port <= 65_535 ? port : undefined;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `HERALD_LOG_LEVEL`, default `info`; any other value is a ConfigError rather than a crash in pino. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const level = env.HERALD_LOG_LEVEL;
  if (level === undefined || level === '') return 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(
      `HERALD_LOG_LEVEL="${level.slice(0, 100)}" must be one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  return level as LogLevel;
}

/** The `HERALD_*` environment variables that are set, as config: `herald serve` and embedded hubs read them. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HeraldConfigInput {
  const config: HeraldConfigInput = {};
  if (env.HERALD_PORT !== undefined) {
    const port = parsePort(env.HERALD_PORT);
    if (port === undefined) throw new ConfigError(`HERALD_PORT="${env.HERALD_PORT}" ${PORT_RULE}`);
    config.port = port;
  }
  if (env.HERALD_HOST) config.host = env.HERALD_HOST;
  if (env.HERALD_BROKER) config.broker = env.HERALD_BROKER;
  if (env.HERALD_API_KEY) config.apiKey = env.HERALD_API_KEY;
  if (env.HERALD_TOKEN_SECRET) config.tokenSecret = env.HERALD_TOKEN_SECRET;
  if (env.HERALD_METRICS_KEY) config.metricsKey = env.HERALD_METRICS_KEY;
  const webhook = webhookFromEnv(env);
  if (webhook) config.webhooks = [webhook];
  const pusherApp = pusherAppFromEnv(env);
  if (pusherApp) config.pusher = { apps: [pusherApp] };
  if (env.HERALD_INSECURE !== undefined && env.HERALD_INSECURE !== '') {
    if (!/^[01]$/.test(env.HERALD_INSECURE))
      throw new ConfigError(`HERALD_INSECURE="${env.HERALD_INSECURE}" must be 1 or 0`);
    config.allowUnauthenticatedApi = env.HERALD_INSECURE === '1';
  }
  return config;
}

/** `HERALD_WEBHOOK_URL` with `HERALD_WEBHOOK_SECRET`: one endpoint, every other setting at its default. */
function webhookFromEnv(env: NodeJS.ProcessEnv): { url: string; secret: string } | undefined {
  const url = env.HERALD_WEBHOOK_URL || undefined;
  const secret = env.HERALD_WEBHOOK_SECRET || undefined;
  if (url === undefined && secret === undefined) return undefined;
  if (url === undefined) throw new ConfigError('HERALD_WEBHOOK_SECRET is set without HERALD_WEBHOOK_URL');
  if (secret === undefined) throw new ConfigError('HERALD_WEBHOOK_URL is set without HERALD_WEBHOOK_SECRET');
  const checked = WebhookEndpointSchema.pick({ url: true, secret: true }).safeParse({ url, secret });
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const name = issue.path[0] === 'url' ? 'HERALD_WEBHOOK_URL' : 'HERALD_WEBHOOK_SECRET';
    throw new ConfigError(`${name} ${issue.message}`);
  }
  return { url, secret };
}

const PUSHER_ENV = ['HERALD_PUSHER_APP_ID', 'HERALD_PUSHER_APP_KEY', 'HERALD_PUSHER_APP_SECRET'] as const;

/** One Pusher app from `HERALD_PUSHER_APP_ID`, `_KEY` and `_SECRET`: all three, or none. */
function pusherAppFromEnv(env: NodeJS.ProcessEnv): { id: string; key: string; secret: string } | undefined {
  const [id, key, secret] = PUSHER_ENV.map((name) => env[name] || undefined);
  if (id === undefined && key === undefined && secret === undefined) return undefined;
  if (id === undefined || key === undefined || secret === undefined) {
    throw new ConfigError(`set all of ${PUSHER_ENV.join(', ')} for a Pusher app, or none`);
  }
  return { id, key, secret };
}

export async function loadConfigFile(path: string): Promise<HeraldConfigInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as HeraldConfigInput;
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}
