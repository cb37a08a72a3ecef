import { HeraldError } from '@herald/protocol';
import type { NamespaceOptions } from '../config.ts';

/** Who a connection is, as established from its token (or anonymous). */
export interface Identity {
  user: string | null;
  /** Unix seconds when the credentials expire. */
  expiresAt?: number;
  /** Public information shown in presence. */
  info?: unknown;
}

export interface ConnectContext {
  transport: string;
  ip?: string;
  origin?: string;
}

/**
 * Decides who connects and what they may do. The hub calls it for every transport, so rules hold
 * for WebSocket, SSE and long-polling alike.
 */
export interface Authenticator {
  connect(token: string | undefined, context: ConnectContext): Promise<Identity>;
  canSubscribe(
    identity: Identity,
    channel: string,
    namespace: NamespaceOptions,
    token?: string,
  ): Promise<void>;
  canPublish(identity: Identity, channel: string, namespace: NamespaceOptions): Promise<void>;
}

/** Without token verification every connection is anonymous; namespaces decide what anonymous may do. */
export class AnonymousAuthenticator implements Authenticator {
  async connect(token: string | undefined): Promise<Identity> {
    if (token !== undefined) {
      throw new HeraldError(
        'unauthorized',
        'this hub verifies no tokens (set HERALD_TOKEN_SECRET to enable them)',
      );
    }
    return { user: null };
  }

  async canSubscribe(identity: Identity, channel: string, namespace: NamespaceOptions): Promise<void> {
    if (identity.user === null && !namespace.allowAnonymous) {
      throw new HeraldError('forbidden', `anonymous connections may not subscribe to ${channel}`);
    }
  }

  async canPublish(_identity: Identity, channel: string, namespace: NamespaceOptions): Promise<void> {
    if (!namespace.allowClientPublish) {
      throw new HeraldError('forbidden', `clients may not publish to ${channel}`);
    }
  }
}
