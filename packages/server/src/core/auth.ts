import type { RateKind, TokenBucket } from './limits.ts';

/** Who a connection is, as established from its credentials (or anonymous). */
export interface Identity {
  user: string | null;
  /** Unix seconds when the credentials expire. */
  expiresAt?: number;
  /** Public information shown in presence (the token's `info` claim). */
  info?: unknown;
}

/** Shared by every anonymous session (identities are replaced, never mutated), so they cost nothing each. */
export const ANONYMOUS: Identity = Object.freeze({ user: null });

/** What a client presents to prove who it is. */
export interface Credentials {
  /** Connection token: the `connect` command's `token`, SSE/poll `?token=` or `Authorization: Bearer`. */
  token?: string;
  /** The request's Cookie header, for an auth proxy that reads the app's session cookie. */
  cookie?: string;
}

/** Shared by every session that presented nothing. */
export const NO_CREDENTIALS: Credentials = Object.freeze({});

/** The session a `RequestClient` is asked about. */
export interface ClientSession {
  readonly id: string;
  readonly identity: Identity;
  readonly context: ConnectContext;
}

/** What outlives the one-request sessions of a client (see `ConnectContext.requestClient`). */
export interface RequestClient {
  /** The client's presence member id, the same across its requests. */
  presenceId(session: ClientSession): string;
  /** The client's publish or command bucket, shared by all its requests. */
  bucket(session: ClientSession, kind: RateKind): TokenBucket;
}

/** Where a connection comes from; each transport fills in what it knows. */
export interface ConnectContext {
  transport: string;
  ip?: string;
  /** The browser's Origin header. */
  origin?: string;
  /** The Host header, so same-origin requests are recognised. */
  host?: string;
  cookie?: string;
  /**
   * Set by transports whose every request is a new session (long-polling, client actions): the client
   * those sessions belong to. Its publish and command rates are kept per client rather than per session,
   * and its presence outlives the session: it expires `presenceTtl` after the client's last request.
   */
  requestClient?: RequestClient;
}

export interface SubscriptionRequest {
  identity: Identity;
  channel: string;
  /** The subscription token sent with `subscribe`, if any. */
  token?: string;
  /** The connection's own credentials (for the auth proxy). */
  credentials: Credentials;
}

/**
 * Verifies credentials. The hub applies namespace rules, private channels and limits itself, for
 * WebSocket, SSE and long-polling alike; the authenticator only answers who a client is and whether a
 * `token` or `proxy` namespace lets it subscribe. Refusals are HeraldErrors (`unauthorized`,
 * `token_expired`, `forbidden`, or `unavailable` when it cannot tell).
 */
export interface Authenticator {
  /** No credentials: resolve `{ user: null }` (anonymous) or refuse. */
  connect(credentials: Credentials, context: ConnectContext): Promise<Identity>;
  /** Called for channels whose namespace subscribes by `token` or `proxy`. */
  authorizeSubscription(request: SubscriptionRequest, mode: 'token' | 'proxy'): Promise<void>;
}
