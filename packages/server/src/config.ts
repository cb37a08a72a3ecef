import { WEBHOOK_EVENT_TYPES } from '@herald/protocol';
import { z } from 'zod';

/** Rules for every channel in one namespace (`chat` for `chat:room-1`). See docs/auth.md. */
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
    /**
     * Who may subscribe (and read history and presence): `anyone`, `authenticated` connections, only
     * holders of a subscription `token` for the channel, or whoever the auth `proxy` allows.
     */
    subscribe: z.enum(['anyone', 'authenticated', 'token', 'proxy']).default('anyone'),
    /** Who may publish from a client connection (the server API always may). */
    publish: z.enum(['nobody', 'authenticated', 'anyone']).default('anyone'),
    /** Whether subscribers are listed in presence. */
    presence: z.boolean().default(true),
    /** Whether subscribers get `join`/`leave` pushes (needs `presence`). */
    joinLeave: z.boolean().default(false),
    /**
     * The events a publication in this namespace may have, each with the JSON Schema of its `data`
     * (compiled once, when the hub starts). Set: a publication without one of them is refused
     * (`invalid_event`), and data its schema refuses too (`invalid_data`). Unset: anything goes.
     */
    events: z.record(z.string(), z.union([z.boolean(), z.record(z.string(), z.unknown())])).optional(),
  })
  .strict()
  .refine((ns) => ns.presence || !ns.joinLeave, {
    message: 'joinLeave needs presence: true',
    path: ['joinLeave'],
  });

export type NamespaceOptions = z.output<typeof NamespaceSchema>;

/** The app's auth routes: the hub POSTs the client's credentials and follows the answer. See docs/auth.md. */
export const AuthProxySchema = z
  .object({
    /** Asked on connect; answers `{user, info?, expiresAt?}` (200) or refuses (401/403). */
    connectUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Asked on subscribe to `proxy` namespaces; 2xx allows, 401/403 refuses. */
    subscribeUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Seconds to wait for an answer before refusing with `unavailable`. */
    timeout: z.number().min(0.05).max(60).default(3),
    /** Seconds an answer is reused for the same credentials. */
    cacheTtl: z.number().min(0).max(3600).default(5),
  })
  .strict()
  .refine((p) => p.connectUrl !== undefined || p.subscribeUrl !== undefined, {
    message: 'set connectUrl, subscribeUrl or both',
  });

/** Abuse limits; each refusal has its own error code (docs/protocol.md). 0 means unlimited. */
export const LimitsSchema = z
  .object({
    /** Client publishes per second per connection (token bucket); over it: `rate_limited`. */
    publishRate: z.number().min(0).default(100),
    /** Publishes a connection may burst before the rate applies. */
    publishBurst: z.number().int().min(1).default(200),
    /** Open connections per authenticated user; over it: `too_many_connections` (close 4503). */
    connectionsPerUser: z.number().int().min(0).default(100),
    /** Open connections per client IP; over it: `too_many_connections`. 0: unlimited (proxies share IPs). */
    connectionsPerIp: z.number().int().min(0).default(0),
    /** Commands per second per connection, of every kind (token bucket); over it: `too_many_commands`. */
    commandRate: z.number().min(0).default(100),
    /** Commands a connection may burst before the rate applies. */
    commandBurst: z.number().int().min(1).default(200),
    /**
     * Channels one connection may be subscribed to (also the most `connect`'s `subs` may name); over it:
     * `too_many_subscriptions`.
     */
    subscriptionsPerConnection: z.number().int().min(0).default(1000),
    /** Distinct channels this node holds (history, subscribers); a new one over it: `too_many_channels`. */
    channelsPerNode: z.number().int().min(0).default(100_000),
    /** Distinct channels anonymous connections from one IP may bring into existence; over it: `too_many_channels`. */
    channelsPerIp: z.number().int().min(0).default(1000),
  })
  .strict();

/** Server-Sent Events (`GET /connection/sse`). See docs/protocol.md. */
export const SseSchema = z
  .object({
    /** Seconds between heartbeat comments on every stream, so proxies do not cut idle ones. */
    heartbeat: z.number().min(0.05).max(3600).default(15),
    /** Seconds an EventSource waits before reconnecting (the `retry:` field). */
    retry: z.number().min(0).max(3600).default(2),
    /**
     * Seconds after which the hub ends a stream cleanly (close code 4005), so it ends before a
     * platform's response time limit and the client resumes; 0 never ends it.
     */
    maxStreamDuration: z.number().min(0).max(86_400).default(0),
  })
  .strict();

/** Long-polling (`GET /connection/poll`). */
export const PollSchema = z
  .object({
    /** Seconds a poll is held open while there is nothing to return (a client may ask for less). */
    timeout: z.number().min(0).max(300).default(25),
  })
  .strict();

/** `whsec_` and the base64 of 24 to 64 random bytes, as Standard Webhooks secrets are written. */
const WebhookSecretSchema = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, {
    message: 'must be "whsec_" followed by base64 (a Standard Webhooks secret)',
    abort: true,
  })
  .refine(
    (secret) => {
      const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64').length;
      return bytes >= 24 && bytes <= 64;
    },
    { message: 'must hold 24 to 64 bytes after "whsec_" (e.g. whsec_ + `openssl rand -base64 32`)' },
  );

/** One receiver of lifecycle webhooks. See docs/webhooks.md. */
export const WebhookEndpointSchema = z
  .object({
    /** Where events are POSTed. */
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    /** Signs every request (Standard Webhooks `webhook-signature`). */
    secret: WebhookSecretSchema,
    /** Event types sent; default every type but `publication`, which is sent only when listed. */
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).optional(),
    /** Only events of channels in these namespaces (`""`: channels without a colon); client events always go. */
    namespaces: z.array(z.string()).min(1).optional(),
    /** Milliseconds one request may take before it counts as failed and is retried. */
    timeoutMs: z.number().int().min(100).max(120_000).default(5_000),
    /** Tries per event, the first included, before it is given up (`herald_webhooks_failed_total`). */
    maxAttempts: z.number().int().min(1).max(100).default(10),
    /** Milliseconds before the first retry; each next one waits twice as long (with jitter). */
    retryDelayMs: z.number().int().min(1).max(3_600_000).default(1_000),
    /** The longest wait between two tries, `Retry-After` included. */
    maxRetryDelayMs: z.number().int().min(1).max(3_600_000).default(60_000),
    /** Requests to this endpoint in flight at once. */
    concurrency: z.number().int().min(1).max(1_000).default(32),
    /** Events waiting for this endpoint on one node; past it new ones are dropped and counted. */
    queueSize: z.number().int().min(1).max(1_000_000).default(10_000),
  })
  .strict();

export type WebhookEndpoint = z.output<typeof WebhookEndpointSchema>;

/** Presence as the app's backend sees it (webhooks). */
export const PresenceSchema = z
  .object({
    /**
     * Seconds a client may be gone and come back (same user) without a `presence.left`/`presence.joined`
     * pair, and a channel be empty without a `channel.vacated`/`channel.occupied` pair. 0: no damping.
     */
    grace: z.number().min(0).max(3600).default(5),
  })
  .strict();

/** The events of Pusher-format webhooks (docs/pusher.md#webhooks), Pusher's names. */
export const PUSHER_WEBHOOK_EVENTS = [
  'channel_occupied',
  'channel_vacated',
  'member_added',
  'member_removed',
  'client_event',
  'cache_miss',
] as const;
export type PusherWebhookEvent = (typeof PUSHER_WEBHOOK_EVENTS)[number];

/** A receiver of a Pusher app's webhooks: signed with the app's secret, delivered as lifecycle webhooks are. */
export const PusherWebhookSchema = WebhookEndpointSchema.omit({
  secret: true,
  events: true,
  namespaces: true,
})
  .extend({
    /** Pusher's event names this receiver gets; default all. */
    events: z.array(z.enum(PUSHER_WEBHOOK_EVENTS)).min(1).optional(),
  })
  .strict();

export type PusherWebhook = z.output<typeof PusherWebhookSchema>;

/** One app of the Pusher Channels protocol (`/app/{key}`, `/apps/{id}/…`). See docs/pusher.md. */
export const PusherAppSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -'),
    key: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -'),
    secret: z.string().min(8, 'must be at least 8 characters'),
    /** Whether clients may send `client-*` events on private and presence channels. */
    clientEvents: z.boolean().default(false),
    /** Client events per second per connection (token bucket, burst of the same size); over it: 4301. */
    clientEventRate: z.number().int().min(1).max(10_000).default(10),
    /**
     * `required`: a connection that has not signed in (`pusher:signin`) within `signinTimeout` seconds is
     * closed with 4009, like Pusher's "authorized connections"; `optional` (default): sign-in is up to the app.
     */
    userAuthentication: z.enum(['optional', 'required']).default('optional'),
    signinTimeout: z.number().min(1).max(3600).default(30),
    /** Distinct users on one presence channel; a subscription past it is refused. */
    maxPresenceMembers: z.number().int().min(1).max(10_000).default(100),
    /** Receivers of Pusher-format webhooks (`X-Pusher-Signature`); see docs/pusher.md#webhooks. */
    webhooks: z.array(PusherWebhookSchema).default([]),
  })
  .strict();

export const PusherSchema = z
  .object({
    apps: z
      .array(PusherAppSchema)
      .min(1)
      .refine((apps) => new Set(apps.map((a) => a.key)).size === apps.length, 'app keys must differ')
      .refine((apps) => new Set(apps.map((a) => a.id)).size === apps.length, 'app ids must differ'),
    /** Seconds of silence after which either side pings (`activity_timeout` in connection_established). */
    activityTimeout: z.number().int().min(1).max(3600).default(120),
  })
  .strict();

export type PusherApp = z.output<typeof PusherAppSchema>;
export type PusherConfig = z.output<typeof PusherSchema>;

/** A browser origin, `"*"` (any) or `https://*.example.com` (any subdomain). */
const OriginSchema = z
  .string()
  .regex(
    /^(\*|https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?)$/,
    'must be "*" or an origin like https://app.example.com (no path)',
  );

export const ConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65_535).default(8080),
    host: z.string().min(1).default('127.0.0.1'),
    /** `memory` or a `redis://` URL. */
    broker: z.string().min(1).default('memory'),
    /** Key for the server HTTP API (`Authorization: apikey KEY`). Unset: the API accepts unauthenticated calls. */
    apiKey: z.string().min(1).optional(),
    /** HS256 secret for connection and subscription tokens (env HERALD_TOKEN_SECRET). */
    tokenSecret: z.string().min(32, 'must be at least 32 characters (256 bits) for HS256').optional(),
    /** PEM public key (`-----BEGIN PUBLIC KEY-----`) for RS256 (RSA key) or ES256 (P-256 key) tokens. */
    tokenPublicKey: z
      .string()
      .regex(/-----BEGIN PUBLIC KEY-----/, 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)')
      .optional(),
    /** JWKS URL whose keys verify RS256/ES256 tokens; fetched on demand and cached. */
    tokenJwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** When set, tokens must carry this `iss`. */
    tokenIssuer: z.string().min(1).optional(),
    /** When set, tokens must carry this `aud`. */
    tokenAudience: z.string().min(1).optional(),
    /** Seconds a connection may live past its token's `exp` to send `refresh` before it is closed (4004). */
    tokenExpiryGrace: z.number().min(0).max(3600).default(10),
    /** The app's own routes that decide who connects and subscribes (namespaces with `subscribe: "proxy"`). */
    authProxy: AuthProxySchema.optional(),
    /**
     * Browser origins allowed to open WebSocket, SSE and long-polling connections and to call the client
     * endpoints (CORS). `"*"` allows any; `"https://*.example.com"` any subdomain. Requests without an
     * Origin header (non-browser clients) and same-origin requests are always allowed. A hub listening on
     * loopback also answers only requests whose Host is a loopback name or the host of a listed origin.
     */
    allowedOrigins: z.array(OriginSchema).default(['*']),
    /**
     * Browser origins allowed to call the operator endpoints (`/api/*`, `/metrics`, `/admin`) and read
     * their answers (CORS). Default none: only non-browser callers and the hub's own pages (same origin,
     * when `apiKey` is set or the hub is reached by a loopback name) may.
     */
    apiAllowedOrigins: z.array(OriginSchema).default([]),
    /**
     * Lets `herald serve` listen on a non-loopback interface without `apiKey` (flag `--insecure`, env
     * HERALD_INSECURE=1): anyone who can reach the port may then publish through `/api/*`.
     */
    allowUnauthenticatedApi: z.boolean().default(false),
    /** A key for `/metrics` only (env HERALD_METRICS_KEY), so a scraper need not hold the API key. */
    metricsKey: z.string().min(1).optional(),
    limits: LimitsSchema.prefault({}),
    sse: SseSchema.prefault({}),
    poll: PollSchema.prefault({}),
    /** Lifecycle webhooks to the app's backend (env HERALD_WEBHOOK_URL + HERALD_WEBHOOK_SECRET for one). */
    webhooks: z.array(WebhookEndpointSchema).default([]),
    presence: PresenceSchema.prefault({}),
    /** Seconds a presence entry lives unless refreshed; the hub refreshes its own at a third of it. */
    presenceTtl: z.number().min(1).max(3600).default(60),
    /** Largest publication `data`, in bytes of JSON. */
    maxPayloadBytes: z
      .number()
      .int()
      .min(64)
      .max(64 * 1024 * 1024)
      .default(64 * 1024),
    /**
     * Deepest nesting of arrays and objects in publication `data`; deeper: `invalid_data`. Capped well
     * below the depth at which encoding JSON would exhaust the stack.
     */
    maxPayloadDepth: z.number().int().min(1).max(1000).default(64),
    /** Bytes waiting to be written to one connection before it is cut as a slow consumer. */
    maxQueueBytes: z
      .number()
      .int()
      .min(1024)
      .default(4 * 1024 * 1024),
    /**
     * Seconds between `ping` pushes on every WebSocket (a silent one is closed after one interval); SSE
     * streams beat every `sse.heartbeat` instead. The hub's shared sweep runs at least this often too.
     */
    pingInterval: z.number().min(0.05).max(3600).default(25),
    /** Seconds an idempotency key is remembered. */
    idempotencyWindow: z.number().min(0).max(86_400).default(120),
    /**
     * Namespaces by name. `""` holds channels without a colon; `"*"` applies to any namespace not listed.
     * A channel whose namespace matches neither is refused with `unknown_namespace`.
     */
    namespaces: z.record(z.string(), NamespaceSchema).default({ '*': NamespaceSchema.parse({}) }),
    /** The Pusher Channels protocol beside Herald's own (docs/pusher.md); off unless apps are listed. */
    pusher: PusherSchema.optional(),
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
  // zod drops an own `__proto__` key of a record without a word; refuse it rather than lose a namespace.
  const namespaces = (input as { namespaces?: unknown } | null)?.namespaces;
  if (typeof namespaces === 'object' && namespaces !== null && Object.hasOwn(namespaces, '__proto__')) {
    throw new ConfigError(`${source}: namespaces: a namespace may not be named "__proto__"`);
  }
  const result = ConfigSchema.safeParse(input);
  if (!result.success) throw new ConfigError(`${source}: ${describeIssues(result.error)}`);
  return withPusherNamespace(result.data, source);
}

/**
 * Pusher channel names have no colon, so they are Herald channels of namespace `""`; presence channels
 * need its presence entries and join/leave pushes. Unless the config lists `""` itself, it is the `"*"`
 * namespace's rules (or the defaults) with both on.
 */
function withPusherNamespace(config: HeraldConfig, source: string): HeraldConfig {
  if (config.pusher === undefined) return config;
  const own = Object.hasOwn(config.namespaces, '') ? config.namespaces[''] : undefined;
  if (own !== undefined) {
    if (own.presence && own.joinLeave) return config;
    throw new ConfigError(
      `${source}: namespaces."": Pusher channels live in namespace "" and need presence: true and joinLeave: true`,
    );
  }
  const base = Object.hasOwn(config.namespaces, '*') ? config.namespaces['*'] : NamespaceSchema.parse({});
  return {
    ...config,
    namespaces: { ...config.namespaces, '': { ...base, presence: true, joinLeave: true } },
  };
}
