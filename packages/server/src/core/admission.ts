import { HeraldError } from '@herald/protocol';
import type { HeraldConfig, NamespaceOptions } from '../config.ts';
import { checkRead } from './access.ts';
import type { Authenticator, ConnectContext, Credentials, Identity } from './auth.ts';
import { resolveNamespace } from './channel-name.ts';
import { ConnectionCounter } from './limits.ts';
import { isOriginAllowed } from './origin.ts';

/** A session as admission sees it (`Session`). */
export interface AdmittedSession {
  readonly context: ConnectContext;
  readonly identity: Identity;
  readonly credentials: Credentials;
  readonly closed: boolean;
  readonly connected: boolean;
  readonly subscriptions: { has(channel: string): boolean };
  /** Asked by the sweep while its token is past `exp` (see `Session.expire`). */
  expire(now: number, grace: number): void;
}

/**
 * Who may connect and read: the Origin and the connections per IP and per user, credentials (through the
 * `Authenticator`), channel read rules, and the expiry of connection tokens.
 */
export class Admission {
  private readonly perIp = new ConnectionCounter();
  private readonly perUser = new ConnectionCounter();
  /** Sessions whose credentials expire; checked by `sweep`. */
  private readonly expiring = new Set<AdmittedSession>();

  constructor(
    private readonly config: HeraldConfig,
    private readonly auth: Authenticator,
  ) {}

  /**
   * Why a connection from `context` would be refused (its Origin, connections per IP), if it would.
   * The WebSocket transport asks before accepting the upgrade, to refuse with a plain HTTP error;
   * `admit` checks again for every transport.
   */
  check(context: ConnectContext): HeraldError | undefined {
    return this.refusal(context, 0);
  }

  /** Counts a session just opened against its IP. */
  opened(session: AdmittedSession): void {
    if (session.context.ip !== undefined) this.perIp.add(session.context.ip);
  }

  /**
   * Admits an open session with `credentials`: origin, connections per IP and per user, then the
   * credentials. Throws the refusal; on success the session is counted against its user.
   */
  async admit(session: AdmittedSession, credentials: Credentials): Promise<Identity> {
    const { context } = session;
    const refusal = this.refusal(context, 1);
    if (refusal) throw refusal;
    const identity = await this.authenticate(credentials, context);
    if (session.closed) return identity;
    const perUser = this.config.limits.connectionsPerUser;
    if (identity.user !== null) {
      if (perUser > 0 && this.perUser.count(identity.user) >= perUser) {
        throw new HeraldError('too_many_connections', `at most ${perUser} connections per user`);
      }
      this.perUser.add(identity.user);
    }
    return identity;
  }

  /** Verifies credentials and the token's expiry. */
  async authenticate(credentials: Credentials, context: ConnectContext): Promise<Identity> {
    const identity = await this.auth.connect(credentials, context);
    if (identity.expiresAt !== undefined && identity.expiresAt * 1000 <= Date.now()) {
      throw new HeraldError('token_expired', 'the connection token has expired');
    }
    return identity;
  }

  /** Watches the expiry of the session's (new) identity. */
  identified(session: AdmittedSession): void {
    if (session.identity.expiresAt === undefined) this.expiring.delete(session);
    else this.expiring.add(session);
  }

  /** Drops the counts of a closed session. */
  released(session: AdmittedSession): void {
    this.expiring.delete(session);
    if (session.context.ip !== undefined) this.perIp.remove(session.context.ip);
    if (session.connected && session.identity.user !== null) this.perUser.remove(session.identity.user);
  }

  /**
   * Whether the session may read `channel` (subscribe, history, presence): private channels, the
   * namespace's `subscribe` rule, and for `token`/`proxy` namespaces the authenticator. A session already
   * subscribed passed all that.
   */
  async authorizeRead(session: AdmittedSession, channel: string, token?: string): Promise<NamespaceOptions> {
    const ns = resolveNamespace(this.config, channel);
    if (session.subscriptions.has(channel) && token === undefined) return ns;
    const mode = checkRead(session.identity, channel, ns);
    if (mode !== null) {
      await this.auth.authorizeSubscription(
        { identity: session.identity, channel, token, credentials: session.credentials },
        mode,
      );
    }
    return ns;
  }

  /**
   * A connection whose token passed `exp` is asked to refresh and closed if it has not within
   * `tokenExpiryGrace` (see `Session.expire`).
   */
  sweep(now: number): void {
    const grace = this.config.tokenExpiryGrace * 1000;
    for (const session of this.expiring) session.expire(now, grace);
  }

  /** `counted`: whether the connection is already among those of its IP. */
  private refusal(context: ConnectContext, counted: 0 | 1): HeraldError | undefined {
    if (!isOriginAllowed(this.config.allowedOrigins, context.origin, context.host)) {
      return new HeraldError(
        'origin_not_allowed',
        `origin ${String(context.origin).slice(0, 100)} is not allowed`,
      );
    }
    const max = this.config.limits.connectionsPerIp;
    if (max > 0 && context.ip !== undefined && this.perIp.count(context.ip) - counted >= max) {
      return new HeraldError('too_many_connections', `at most ${max} connections per IP address`);
    }
    return undefined;
  }
}
