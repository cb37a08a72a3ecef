import { HeraldError, type PresenceMember, parsePosition, type StreamPosition } from '@herald/protocol';
import type { PusherApp } from '../../config.ts';
import { ANONYMOUS, type Identity } from '../../core/auth.ts';
import type { Delivery } from '../../core/delivery.ts';
import type { HubCore } from '../../core/hub.ts';
import { type Session, toHeraldError } from '../../core/session.ts';
import type { PositionedSubscription } from '../../core/subscription.ts';
import {
  CHANNEL_RULE,
  channelKind,
  isPusherChannel,
  type PusherChannelKind,
  USER_CHANNEL_PREFIX,
} from './channel-names.ts';
import { PresenceMembers, type PusherMember, presenceMember } from './presence.ts';
import { verifyAuth } from './signatures.ts';
import type { PusherWebhooks } from './webhooks.ts';
import { POSITION_EVENT, publicationFrame } from './wire.ts';

/** One channel of a Pusher connection: subscribing (`ready` false) or subscribed. */
export interface PusherSubscription {
  channel: string;
  kind: PusherChannelKind;
  ready: boolean;
  /** The connection's member on a presence channel. */
  member?: PusherMember;
  /** A presence channel's members, once subscribed. */
  members?: PresenceMembers;
  /** Opted into Herald's resume (`herald` in pusher:subscribe): its position goes out after each flush. */
  resumable: boolean;
}

/** Why a subscription was refused, as pusher-js reports it (`pusher:subscription_error`). */
function subscriptionError(type: string, error: string, status: number) {
  return { type, error, status };
}

/** What a connection's channels need of their connection (`PusherConnection`). */
export interface ChannelsHost {
  readonly session: Session;
  readonly transport: { readonly hub: HubCore; readonly webhooks?: PusherWebhooks };
  readonly app: PusherApp;
  readonly socketId: string;
  /** The user signed in with `pusher:signin`, if any. */
  readonly user: { id: string; info?: unknown } | null;
  emit(event: string, data: unknown, channel?: string): void;
  error(message: string, code?: number | null): void;
  sendFrame(frame: Buffer): void;
  sendPublication(delivery: Delivery): void;
}

/**
 * The channels of one pusher-js connection. Each is the hub's subscription on the Herald channel of the
 * same name; the app's HMAC signature takes the place of Herald's tokens for private and presence
 * channels, and the hub's presence pushes become Pusher's member events.
 */
export class PusherChannels {
  private readonly subs = new Map<string, PusherSubscription>();

  constructor(private readonly connection: ChannelsHost) {}

  private get session(): Session {
    return this.connection.session;
  }

  get(channel: string): PusherSubscription | undefined {
    return this.subs.get(channel);
  }

  async subscribe(fields: Record<string, unknown>): Promise<void> {
    const channel = fields.channel;
    if (typeof channel !== 'string' || !isPusherChannel(channel)) {
      this.connection.error(`invalid channel: ${CHANNEL_RULE}`);
      return;
    }
    const fail = (type: string, error: string, status: number) =>
      this.connection.emit('pusher:subscription_error', subscriptionError(type, error, status), channel);
    if (this.subs.has(channel)) {
      fail('AlreadySubscribed', `already subscribed to ${channel}`, 409);
      return;
    }
    const kind = channelKind(channel);
    let since: StreamPosition | undefined;
    const herald = fields.herald;
    try {
      if (herald !== undefined && (typeof herald !== 'object' || herald === null))
        throw new HeraldError('bad_request', '"herald" must be an object');
      const position = (herald as { since?: unknown } | undefined)?.since;
      since = position === undefined ? undefined : parsePosition(position);
    } catch (err) {
      fail('InvalidRequest', toHeraldError(err).message, 400);
      return;
    }
    const sub: PusherSubscription = { channel, kind, ready: false, resumable: herald !== undefined };
    let identity = this.identity();
    if (kind.user) {
      if (this.connection.user === null || channel !== USER_CHANNEL_PREFIX + this.connection.user.id) {
        fail(
          'AuthError',
          `${channel} is the channel of another user, or the connection is not signed in`,
          403,
        );
        return;
      }
      // Herald's rule for `#…` channels: private to the user named after the `#`.
      identity = { user: channel.slice(1), info: this.connection.user.info };
    } else if (kind.signed) {
      const channelData = kind.presence ? fields.channel_data : undefined;
      const text = kind.presence
        ? `${this.connection.socketId}:${channel}:${channelData}`
        : `${this.connection.socketId}:${channel}`;
      if (!verifyAuth(this.connection.app, fields.auth, text)) {
        fail(
          'AuthError',
          `invalid signature for ${channel}: the auth endpoint must sign "${text.slice(0, 300)}"`,
          401,
        );
        return;
      }
      if (kind.presence) {
        const member = presenceMember(channelData);
        if (typeof member === 'string') {
          fail('AuthError', member, 400);
          return;
        }
        sub.member = member;
        identity = { user: member.user_id, info: member.user_info };
      }
    }
    this.subs.set(channel, sub);
    let positioned: PositionedSubscription;
    let members: PresenceMember[] = [];
    try {
      positioned = await this.as(identity, () => this.session.subscribe(channel, { since }));
      if (kind.presence) members = await this.connection.transport.hub.presence(channel);
    } catch (err) {
      const mine = this.subs.get(channel) === sub;
      if (mine) this.subs.delete(channel);
      // The presence read may fail after the hub subscribed: let go of that subscription too.
      if (!this.subs.has(channel)) this.dropHeraldSubscription(channel);
      if (!mine) return;
      const error = toHeraldError(err);
      fail(
        error.status === 401 || error.status === 403 ? 'AuthError' : 'HeraldError',
        error.message,
        error.status,
      );
      return;
    }
    const still = () => this.subs.get(channel) === sub && !this.session.closed;
    if (!still()) {
      this.dropHeraldSubscription(channel);
      return;
    }
    let succeeded: unknown = {};
    if (sub.member) {
      const own = { client: this.session.id, user: sub.member.user_id, info: sub.member.user_info };
      sub.members = new PresenceMembers(members, own);
      if (
        !members.some((m) => m.user === own.user) &&
        sub.members.count > this.connection.app.maxPresenceMembers
      ) {
        this.subs.delete(channel);
        this.dropHeraldSubscription(channel);
        fail(
          'LimitReached',
          `${channel} has its limit of ${this.connection.app.maxPresenceMembers} members`,
          403,
        );
        return;
      }
      succeeded = { presence: sub.members.succeeded() };
    }
    sub.ready = true;
    this.connection.emit('pusher_internal:subscription_succeeded', JSON.stringify(succeeded), channel);
    const { result, deliveries } = positioned;
    if (kind.cache && !(since && result.recovered)) await this.sendCached(channel, result);
    if (!still()) return;
    for (const delivery of deliveries) this.connection.sendPublication(delivery);
    if (sub.resumable) {
      const position: Record<string, unknown> = { epoch: result.epoch, offset: result.offset };
      if (since) position.recovered = result.recovered;
      if (deliveries.length === 0) this.connection.emit(POSITION_EVENT, position, channel);
    }
    this.as(identity, () => positioned.activate());
  }

  /** A cache channel's last event, or `pusher:cache_miss`. Live publications wait meanwhile (not yet active). */
  private async sendCached(channel: string, at: { epoch: string; offset: number }): Promise<void> {
    if (at.offset > 0) {
      const page = await this.connection.transport.hub
        .history(channel, { since: { epoch: at.epoch, offset: at.offset - 1 }, limit: 1 }, this.session)
        .catch(() => undefined);
      const last = page?.publications[0];
      if (last && last.offset === at.offset) {
        const frame = publicationFrame(last);
        if (frame.length > 0) {
          this.connection.sendFrame(frame);
          return;
        }
      }
    }
    this.connection.emit('pusher:cache_miss', {}, channel);
    this.connection.transport.webhooks?.cacheMiss(this.connection.app, channel);
  }

  unsubscribe(channel: unknown): void {
    if (typeof channel !== 'string' || !this.subs.delete(channel)) return;
    this.dropHeraldSubscription(channel);
  }

  private dropHeraldSubscription(channel: string): void {
    if (this.session.subscriptions.has(channel))
      this.connection.transport.hub.unsubscribe(this.session, channel);
  }

  /** The hub ended a subscription that lost its place (history no longer covers a gap): take it up again. */
  resubscribe(channel: string): void {
    const sub = this.subs.get(channel);
    if (!sub) return;
    const identity = sub.member ? { user: sub.member.user_id, info: sub.member.user_info } : this.identity();
    this.as(identity, () => this.session.subscribe(channel, {}))
      .then((positioned) => {
        if (this.subs.get(channel) !== sub || this.session.closed) {
          this.dropHeraldSubscription(channel);
          return;
        }
        if (sub.resumable) {
          const { epoch, offset } = positioned.result;
          this.connection.emit(POSITION_EVENT, { epoch, offset, recovered: false }, channel);
        }
        this.as(identity, () => positioned.activate());
      })
      .catch((err: unknown) => {
        this.subs.delete(channel);
        const error = toHeraldError(err);
        this.connection.emit(
          'pusher:subscription_error',
          subscriptionError('HeraldError', error.message, error.status),
          channel,
        );
      });
  }

  presenceChanged(type: 'join' | 'leave', channel: string, member: PresenceMember): void {
    const sub = this.subs.get(channel);
    const members = sub?.members;
    if (!sub?.ready || members === undefined || member.user === null) return;
    if (type === 'join') {
      if (members.joined(member.user))
        this.connection.emit(
          'pusher_internal:member_added',
          JSON.stringify({ user_id: member.user, user_info: member.info ?? {} }),
          channel,
        );
    } else if (members.left(member.user))
      this.connection.emit(
        'pusher_internal:member_removed',
        JSON.stringify({ user_id: member.user }),
        channel,
      );
  }

  /** Who this connection is in Herald's presence on channels where no presence data says otherwise. */
  private identity(): Identity {
    return this.connection.user === null
      ? ANONYMOUS
      : { user: this.connection.user.id, info: this.connection.user.info };
  }

  /**
   * Runs `op` as `identity`. The hub reads a session's identity synchronously when a subscribe starts
   * (read rules) and when it is activated (its presence entry), so swapping it around those calls
   * gives each Pusher subscription its own member without touching the others.
   */
  private as<T>(identity: Identity, op: () => T): T {
    const own = this.session.identity;
    this.session.identity = identity;
    try {
      return op();
    } finally {
      this.session.identity = own;
    }
  }
}
