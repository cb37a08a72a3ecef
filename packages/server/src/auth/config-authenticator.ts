import { HeraldError } from '@herald/protocol';
import { ConfigError, type HeraldConfig } from '../config.ts';
import {
  ANONYMOUS,
  type Authenticator,
  type ConnectContext,
  type Credentials,
  type Identity,
  type SubscriptionRequest,
} from '../core/auth.ts';
import { AuthProxy } from './auth-proxy.ts';
import { TokenVerifier } from './token-verifier.ts';

/**
 * The authenticator `herald serve` builds from its config: JWT connection and subscription tokens
 * (`tokenSecret`, `tokenPublicKey`, `tokenJwksUrl`) and/or the app's auth proxy (`authProxy`). With
 * neither, every connection is anonymous and a token is refused.
 */
export class ConfigAuthenticator implements Authenticator {
  private readonly tokens: TokenVerifier;
  private readonly proxy: AuthProxy | undefined;

  constructor(config: HeraldConfig) {
    this.tokens = new TokenVerifier({
      secret: config.tokenSecret,
      publicKey: config.tokenPublicKey,
      jwksUrl: config.tokenJwksUrl,
      issuer: config.tokenIssuer,
      audience: config.tokenAudience,
    });
    this.proxy = config.authProxy ? new AuthProxy(config.authProxy) : undefined;
    for (const [name, ns] of Object.entries(config.namespaces)) {
      if (ns.subscribe === 'token' && !this.tokens.configured) {
        throw new ConfigError(
          `namespaces.${name}.subscribe: "token" needs tokenSecret, tokenPublicKey or tokenJwksUrl to verify subscription tokens`,
        );
      }
      if (ns.subscribe === 'proxy' && config.authProxy?.subscribeUrl === undefined) {
        throw new ConfigError(`namespaces.${name}.subscribe: "proxy" needs authProxy.subscribeUrl`);
      }
    }
  }

  async connect(credentials: Credentials, context: ConnectContext): Promise<Identity> {
    if (this.proxy?.decidesConnections) {
      if (credentials.token === undefined && credentials.cookie === undefined) return ANONYMOUS;
      return this.proxy.connect(credentials, context);
    }
    if (credentials.token === undefined) return ANONYMOUS;
    if (!this.tokens.configured) {
      throw new HeraldError(
        'unauthorized',
        'this hub verifies no tokens (set HERALD_TOKEN_SECRET to enable them)',
      );
    }
    const claims = await this.tokens.verify(credentials.token, 'connection');
    const identity: Identity = { user: claims.sub };
    if (claims.exp !== undefined) identity.expiresAt = claims.exp;
    if (claims.info !== undefined) identity.info = claims.info;
    return identity;
  }

  async authorizeSubscription(request: SubscriptionRequest, mode: 'token' | 'proxy'): Promise<void> {
    if (mode === 'proxy') {
      if (!this.proxy) throw new HeraldError('forbidden', `no auth proxy decides ${request.channel}`);
      return this.proxy.subscribe(request);
    }
    const { channel, token, identity } = request;
    if (token === undefined) throw new HeraldError('forbidden', `${channel} needs a subscription token`);
    const claims = await this.tokens.verify(token, 'subscription');
    if (claims.channel !== channel) {
      throw new HeraldError('forbidden', `the subscription token is for another channel, not ${channel}`);
    }
    if (claims.sub !== (identity.user ?? '')) {
      throw new HeraldError('forbidden', 'the subscription token is for another user');
    }
  }
}
