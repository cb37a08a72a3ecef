/*
 * Over 400 lines for a reason: one pusher-js connection is one sink whose frames, subscriptions,
 * sign-in, client events and exclusions all turn on its identity swap (`as`) and its socket; the
 * presence member counting (presence.ts), names, signatures and wire encoding are apart.
 */
import type { Duplex } from 'node:stream';
import {
  CloseCodes,
  HeraldError,
  type PresenceMember,
  parsePosition,
  type ServerFrame,
  type StreamPosition,
} from '@herald/protocol';
import type { RawData, WebSocket } from 'ws';
import type { PusherApp } from '../../config.ts';
import { ANONYMOUS, type Identity } from '../../core/auth.ts';
import type { Delivery } from '../../core/delivery.ts';
import type { HubCore } from '../../core/hub.ts';
import { TokenBucket } from '../../core/limits.ts';
import { toHeraldError } from '../../core/session.ts';
import type { Sink } from '../../core/sink.ts';
import type { PositionedSubscription } from '../../core/subscription.ts';
import type { FlushQueue } from '../flush-queue.ts';
import { SocketSink } from '../socket-sink.ts';
import {
  CHANNEL_RULE,
  channelKind,
  isPusherChannel,
  type PusherChannelKind,
  USER_CHANNEL_PREFIX,
} from './channel-names.ts';
import { PresenceMembers, type PusherMember, presenceMember } from './presence.ts';
import { verifyAuth } from './signatures.ts';
import {
  encodePusherFrame,
  POSITION_EVENT,
  PUSHER_FRAME,
  PusherCodes,
  publicationFrame,
  pusherFrame,
} from './wire.ts';

/** A user signed in with `pusher:signin`. */
export interface PusherUser {
  id: string;
  /** The `user_info` of its user data, shown as its presence info on public channels. */
  info?: unknown;
}

/** What a connection needs of its transport (`PusherTransport`). */
export interface PusherHost {
  readonly hub: HubCore;
  readonly flushQueue: FlushQueue<SocketSink>;
  /** The connection's socket is gone. */
  forget(connection: PusherConnection): void;
  /** The connection signed in as `connection.user`. */
  signedIn(connection: PusherConnection): void;
  /** Publishes an event, leaving `except` out of its delivery. */
  publish(channel: string, event: string, data: unknown, except: PusherConnection): Promise<unknown>;
}

/** One channel of a Pusher connection: subscribing (`ready` false) or subscribed. */
interface PusherSubscription {
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

/** A publication one connection must not get: a trigger with its `socket_id`, or its own client event. */
interface Exclusion {
  channel: string;
  event: string;
  json: string;
}

/** Why a subscription was refused, as pusher-js reports it (`pusher:subscription_error`). */
function subscriptionError(type: string, error: string, status: number) {
  return { type, error, status };
}

/** Herald close codes as Pusher's: whether and how pusher-js reconnects. */
function pusherCloseCode(code: number): number {
  switch (code) {
    case CloseCodes.shutdown:
      return PusherCodes.reconnect;
    case CloseCodes.heartbeatTimeout:
      return PusherCodes.pongNotReceived;
    case CloseCodes.disconnectedByServer:
    case CloseCodes.unauthorized:
    case CloseCodes.forbidden:
      return PusherCodes.unauthorized;
    default:
      return code >= 4000 && code < 4300 ? code : PusherCodes.overCapacity;
  }
}

/**
 * One pusher-js connection (`/app/{key}`): the Pusher protocol's frames in, Herald's session underneath.
 * Subscriptions are the hub's, on the Herald channel of the same name; the app's HMAC signature takes the
 * place of Herald's tokens for private and presence channels.
 */
export class PusherConnection extends SocketSink implements Sink {
  readonly subs = new Map<string, PusherSubscription>();
  user: PusherUser | null = null;
  /** Publications to skip, or null (most connections). */
  excluded: Exclusion[] | null = null;
  /** Where resumable subscriptions that moved since the last flush now stand, by channel. */
  private moved: Map<string, { epoch: string; offset: number }> | null = null;
  private clientEvents: TokenBucket | undefined;
  readonly openedAt = Date.now();

  constructor(
    readonly transport: PusherHost,
    readonly app: PusherApp,
    readonly socketId: string,
    ws: WebSocket,
    socket: Duplex,
  ) {
    super(ws, socket, transport.flushQueue);
  }

  // ---- output

  /** A `pusher:*` or channel frame of the hub's own. */
  emit(event: string, data: unknown, channel?: string): void {
    this.enqueue(pusherFrame(event, channel, data));
  }

  error(message: string, code: number | null = null): void {
    this.emit('pusher:error', { code, message });
  }

  send(frame: ServerFrame): void {
    if ('type' in frame) {
      if (frame.type === 'join' || frame.type === 'leave')
        this.presenceChanged(frame.type, frame.channel, frame.member);
      else if (frame.type === 'unsub') this.resubscribe(frame.channel);
      else if (frame.type === 'disconnect') this.error(frame.reason, pusherCloseCode(frame.code));
    }
  }

  sendPublication(delivery: Delivery): void {
    const { pub } = delivery;
    const resumable = this.subs.get(pub.channel)?.resumable === true;
    // An excluded publication still moves a resumable subscription's position past it.
    if (this.excluded === null || !this.isExcluded(delivery)) {
      const frame = delivery.encoded(PUSHER_FRAME, encodePusherFrame);
      if (frame.length > 0) this.enqueue(frame);
    }
    if (resumable) this.moveTo(pub.channel, pub.epoch, pub.offset);
  }

  /** Records a resumable subscription's new position, sent after this turn's frames. */
  private moveTo(channel: string, epoch: string, offset: number): void {
    if (this.moved === null) {
      this.moved = new Map();
      // A flush must come even when the publication itself was not sent (excluded, reserved).
      if (this.pending === null) this.enqueue(Buffer.alloc(0));
    }
    this.moved.set(channel, { epoch, offset });
  }

  override flush(): void {
    const moved = this.moved;
    if (moved !== null) {
      this.moved = null;
      for (const [channel, position] of moved) {
        const frame = pusherFrame(POSITION_EVENT, channel, position);
        this.pending?.push(frame);
        this.pendingBytes += frame.length;
      }
    }
    super.flush();
  }

  close(code: number, reason: string): void {
    this.closeSocket(pusherCloseCode(code), reason, code === CloseCodes.slowConsumer);
  }

  /** Ends the connection with a Pusher code, telling pusher-js why first. */
  refuse(code: number, message: string): void {
    this.error(message, code);
    this.session.close(code, message);
  }

  /** Refuses a connection the hub did not let in (it has no session left to close). */
  refuseSocket(code: number, message: string): void {
    this.error(message, code);
    this.closeSocket(code, message, false);
  }

  // ---- input

  received(data: RawData, isBinary: boolean): void {
    this.alive = true;
    if (!this.session.connected) {
      this.error('wait for pusher:connection_established');
      return;
    }
    let message: { event?: unknown; data?: unknown; channel?: unknown };
    try {
      if (isBinary) throw new Error('binary');
      this.session.takeToken('command');
      message = JSON.parse(data.toString());
      if (typeof message !== 'object' || message === null || typeof message.event !== 'string')
        throw new Error('no event');
    } catch (err) {
      this.error(
        err instanceof HeraldError ? err.message : 'send JSON text frames: {"event", "data", "channel"?}',
      );
      return;
    }
    void this.handle(message.event as string, message.data, message.channel).catch((err: unknown) => {
      this.transport.hub.log.error({ err, socket: this.socketId }, 'pusher frame failed');
      this.error('internal error');
    });
  }

  errored(err: Error): void {
    this.transport.hub.log.debug({ err, socket: this.socketId }, 'pusher socket error');
  }

  ended(code: number, reason: string): void {
    this.transport.forget(this);
    this.session.transportClosed(code, reason);
  }

  private async handle(event: string, data: unknown, channel: unknown): Promise<void> {
    const fields = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
    switch (event) {
      case 'pusher:ping':
        this.emit('pusher:pong', {});
        return;
      case 'pusher:pong':
        return;
      case 'pusher:subscribe':
        await this.subscribe(fields);
        return;
      case 'pusher:unsubscribe':
        this.unsubscribe(fields.channel);
        return;
      case 'pusher:signin':
        this.signin(fields);
        return;
    }
    if (event.startsWith('client-')) {
      await this.clientEvent(event, data, channel);
      return;
    }
    this.error(`unknown event ${event.slice(0, 100)}`);
  }

  // ---- subscriptions

  private async subscribe(fields: Record<string, unknown>): Promise<void> {
    const channel = fields.channel;
    if (typeof channel !== 'string' || !isPusherChannel(channel)) {
      this.error(`invalid channel: ${CHANNEL_RULE}`);
      return;
    }
    const fail = (type: string, error: string, status: number) =>
      this.emit('pusher:subscription_error', subscriptionError(type, error, status), channel);
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
      if (this.user === null || channel !== USER_CHANNEL_PREFIX + this.user.id) {
        fail(
          'AuthError',
          `${channel} is the channel of another user, or the connection is not signed in`,
          403,
        );
        return;
      }
      // Herald's rule for `#…` channels: private to the user named after the `#`.
      identity = { user: channel.slice(1), info: this.user.info };
    } else if (kind.signed) {
      const channelData = kind.presence ? fields.channel_data : undefined;
      const text = kind.presence
        ? `${this.socketId}:${channel}:${channelData}`
        : `${this.socketId}:${channel}`;
      if (!verifyAuth(this.app, fields.auth, text)) {
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
      if (kind.presence) members = await this.transport.hub.presence(channel);
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
      if (!members.some((m) => m.user === own.user) && sub.members.count > this.app.maxPresenceMembers) {
        this.subs.delete(channel);
        this.dropHeraldSubscription(channel);
        fail('LimitReached', `${channel} has its limit of ${this.app.maxPresenceMembers} members`, 403);
        return;
      }
      succeeded = { presence: sub.members.succeeded() };
    }
    sub.ready = true;
    this.emit('pusher_internal:subscription_succeeded', JSON.stringify(succeeded), channel);
    const { result, deliveries } = positioned;
    if (kind.cache && !(since && result.recovered)) await this.sendCached(channel, result);
    if (!still()) return;
    for (const delivery of deliveries) this.sendPublication(delivery);
    if (sub.resumable) {
      const position: Record<string, unknown> = { epoch: result.epoch, offset: result.offset };
      if (since) position.recovered = result.recovered;
      if (deliveries.length === 0) this.emit(POSITION_EVENT, position, channel);
    }
    this.as(identity, () => positioned.activate());
  }

  /** A cache channel's last event, or `pusher:cache_miss`. Live publications wait meanwhile (not yet active). */
  private async sendCached(channel: string, at: { epoch: string; offset: number }): Promise<void> {
    if (at.offset > 0) {
      const page = await this.transport.hub
        .history(channel, { since: { epoch: at.epoch, offset: at.offset - 1 }, limit: 1 }, this.session)
        .catch(() => undefined);
      const last = page?.publications[0];
      if (last && last.offset === at.offset) {
        const frame = publicationFrame(last);
        if (frame.length > 0) {
          this.enqueue(frame);
          return;
        }
      }
    }
    this.emit('pusher:cache_miss', {}, channel);
  }

  private unsubscribe(channel: unknown): void {
    if (typeof channel !== 'string' || !this.subs.delete(channel)) return;
    this.dropHeraldSubscription(channel);
  }

  private dropHeraldSubscription(channel: string): void {
    if (this.session.subscriptions.has(channel)) this.transport.hub.unsubscribe(this.session, channel);
  }

  /** The hub ended a subscription that lost its place (history no longer covers a gap): take it up again. */
  private resubscribe(channel: string): void {
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
          this.emit(POSITION_EVENT, { epoch, offset, recovered: false }, channel);
        }
        this.as(identity, () => positioned.activate());
      })
      .catch((err: unknown) => {
        this.subs.delete(channel);
        const error = toHeraldError(err);
        this.emit(
          'pusher:subscription_error',
          subscriptionError('HeraldError', error.message, error.status),
          channel,
        );
      });
  }

  private presenceChanged(type: 'join' | 'leave', channel: string, member: PresenceMember): void {
    const sub = this.subs.get(channel);
    const members = sub?.members;
    if (!sub?.ready || members === undefined || member.user === null) return;
    if (type === 'join') {
      if (members.joined(member.user))
        this.emit(
          'pusher_internal:member_added',
          JSON.stringify({ user_id: member.user, user_info: member.info ?? {} }),
          channel,
        );
    } else if (members.left(member.user))
      this.emit('pusher_internal:member_removed', JSON.stringify({ user_id: member.user }), channel);
  }

  // ---- sign-in and client events

  private signin(fields: Record<string, unknown>): void {
    const userData = fields.user_data;
    let user: PusherUser | undefined;
    if (
      typeof userData === 'string' &&
      verifyAuth(this.app, fields.auth, `${this.socketId}::user::${userData}`)
    ) {
      try {
        const parsed = JSON.parse(userData) as { id?: unknown; user_info?: unknown };
        if (typeof parsed.id === 'string' && parsed.id !== '')
          user = { id: parsed.id, info: parsed.user_info };
      } catch {
        // Refused below.
      }
    }
    if (user === undefined) {
      this.refuse(
        PusherCodes.unauthorized,
        'sign-in refused: invalid signature or user data without an "id"',
      );
      return;
    }
    if (this.user !== null && this.user.id !== user.id) {
      this.error('already signed in as another user');
      return;
    }
    this.user = user;
    this.transport.signedIn(this);
    this.emit('pusher:signin_success', { user_data: userData });
  }

  private async clientEvent(event: string, data: unknown, channel: unknown): Promise<void> {
    if (!this.app.clientEvents) {
      this.error('client events are not enabled for this app');
      return;
    }
    const sub = typeof channel === 'string' ? this.subs.get(channel) : undefined;
    if (
      sub === undefined ||
      !sub.ready ||
      !sub.kind.signed ||
      sub.kind.encrypted ||
      typeof channel !== 'string'
    ) {
      this.error('client events need a subscribed private- or presence- channel (not encrypted)');
      return;
    }
    this.clientEvents ??= new TokenBucket(this.app.clientEventRate, this.app.clientEventRate);
    if (!this.clientEvents.take()) {
      this.error(
        `client event rejected: at most ${this.app.clientEventRate} per second`,
        PusherCodes.clientEventRate,
      );
      return;
    }
    try {
      await this.transport.publish(channel, event, data, this);
    } catch (err) {
      this.error(toHeraldError(err).message);
    }
  }

  // ---- exclusion

  exclude(exclusion: Exclusion): void {
    this.excluded = this.excluded === null ? [exclusion] : [...this.excluded, exclusion];
  }

  unexclude(exclusion: Exclusion): void {
    const left = this.excluded?.filter((e) => e !== exclusion) ?? [];
    this.excluded = left.length === 0 ? null : left;
  }

  private isExcluded(delivery: Delivery): boolean {
    const { channel, event, data } = delivery.pub;
    const match = this.excluded?.find(
      (e) => e.channel === channel && e.event === event && e.json === JSON.stringify(data),
    );
    if (match === undefined) return false;
    this.unexclude(match);
    return true;
  }

  // ---- identity

  /** Who this connection is in Herald's presence on channels where no presence data says otherwise. */
  private identity(): Identity {
    return this.user === null ? ANONYMOUS : { user: this.user.id, info: this.user.info };
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

export type { Exclusion };
