import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** Rules for every channel in one namespace (`chat` for `chat:room-1`). */
export const NamespaceSchema = z
  .object({
    /** Publications kept per channel for resume and history; 0 keeps none. */
    historySize: z.number().int().min(0).max(1_000_000).default(1000),
    /** Seconds a publication stays in history. */
    historyTtl: z
      .number()
      .min(0)
      .max(30 * 86_400)
      .default(600),
    /** Whether connections without a token may subscribe. */
    allowAnonymous: z.boolean().default(true),
    /** Whether clients (not only the server API) may publish. */
    allowClientPublish: z.boolean().default(true),
  })
  .strict();

export type NamespaceOptions = z.output<typeof NamespaceSchema>;

export const ConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65_535).default(8080),
    host: z.string().min(1).default('127.0.0.1'),
    /** `memory` or a `redis://` URL. */
    broker: z.string().min(1).default('memory'),
    /** Key for the server HTTP API (`Authorization: apikey KEY`). Unset: the API accepts unauthenticated calls. */
    apiKey: z.string().min(1).optional(),
    /** Largest publication `data`, in bytes of JSON. */
    maxPayloadBytes: z
      .number()
      .int()
      .min(64)
      .max(64 * 1024 * 1024)
      .default(64 * 1024),
    /** Bytes waiting to be written to one connection before it is cut as a slow consumer. */
    maxQueueBytes: z
      .number()
      .int()
      .min(1024)
      .default(4 * 1024 * 1024),
    /** Seconds between heartbeats on every transport. */
    pingInterval: z.number().min(0.05).max(3600).default(25),
    /** Seconds an idempotency key is remembered. */
    idempotencyWindow: z.number().min(0).max(86_400).default(120),
    /**
     * Namespaces by name. `""` holds channels without a colon; `"*"` applies to any namespace not listed.
     * A channel whose namespace matches neither is refused with `unknown_namespace`.
     */
    namespaces: z.record(z.string(), NamespaceSchema).default({ '*': NamespaceSchema.parse({}) }),
  })
  .strict();

export type HeraldConfig = z.output<typeof ConfigSchema>;
export type HeraldConfigInput = z.input<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

export function parseConfig(input: unknown, source = 'config'): HeraldConfig {
  const result = ConfigSchema.safeParse(input);
  if (!result.success) throw new ConfigError(`${source}: ${describeIssues(result.error)}`);
  return result.data;
}

/** The `HERALD_*` environment variables that are set, as config: `herald serve` and embedded hubs read them. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HeraldConfigInput {
  const config: HeraldConfigInput = {};
  if (env.HERALD_PORT !== undefined) {
    if (!/^\d+$/.test(env.HERALD_PORT) || Number(env.HERALD_PORT) > 65_535)
      throw new ConfigError(`HERALD_PORT="${env.HERALD_PORT}" must be an integer from 0 to 65535`);
    config.port = Number(env.HERALD_PORT);
  }
  if (env.HERALD_HOST) config.host = env.HERALD_HOST;
  if (env.HERALD_BROKER) config.broker = env.HERALD_BROKER;
  if (env.HERALD_API_KEY) config.apiKey = env.HERALD_API_KEY;
  return config;
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
