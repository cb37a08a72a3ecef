import {
  ANONYMOUS,
  type Authenticator,
  type ConnectContext,
  type Credentials,
  type Identity,
  type SubscriptionRequest,
} from '../../core/auth.ts';
import { channelKind, isPusherChannel } from './channel-names.ts';

/**
 * What a pusher-js connection presents to the hub: no Herald credentials. The app's signatures stand for
 * them, checked by the Pusher transport before it subscribes.
 */
export const PUSHER_CREDENTIALS: Credentials = Object.freeze({});

/**
 * The hub's authenticator when Pusher apps are listed, around the one it was given. pusher-js
 * connections are anonymous to it, and their subscriptions were authorised by the app's signatures. A
 * Herald-protocol client may read a public Pusher channel whatever namespace `""` says, as anyone may on
 * Pusher; for `private-` and `presence-` channels it is asked what the namespace asks (a subscription
 * token, the auth proxy), so those stay closed to Herald clients the app has not let in.
 */
export class PusherAuthenticator implements Authenticator {
  constructor(private readonly inner: Authenticator) {}

  connect(credentials: Credentials, context: ConnectContext): Promise<Identity> {
    if (credentials === PUSHER_CREDENTIALS) return Promise.resolve(ANONYMOUS);
    return this.inner.connect(credentials, context);
  }

  async authorizeSubscription(request: SubscriptionRequest, mode: 'token' | 'proxy'): Promise<void> {
    if (request.credentials === PUSHER_CREDENTIALS) return;
    const { channel } = request;
    if (isPusherChannel(channel)) {
      const kind = channelKind(channel);
      if (!kind.signed && !kind.user) return;
    }
    return this.inner.authorizeSubscription(request, mode);
  }
}
