import type { Duplex } from 'node:stream';
import { CloseCodes, HeraldError, type ServerFrame } from '@herald/protocol';
import type { RawData, WebSocket } from 'ws';
import type { PusherApp } from '../../config.ts';
import type { Delivery } from '../../core/delivery.ts';
import type { HubCore } from '../../core/hub.ts';
import { TokenBucket } from '../../core/limits.ts';
import { toHeraldError } from '../../core/session.ts';
import type { Sink } from '../../core/sink.ts';
import type { FlushQueue } from '../flush-queue.ts';
import { SocketSink } from '../socket-sink.ts';
import { PusherChannels } from './channels.ts';
import { verifyAuth } from './signatures.ts';
import type { PusherWebhooks } from './webhooks.ts';
import { encodePusherFrame, POSITION_EVENT, PUSHER_FRAME, PusherCodes, pusherFrame } from './wire.ts';

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
  /** The apps' Pusher-format webhooks, when any app lists receivers. */
  readonly webhooks?: PusherWebhooks;
  /** The connection's socket is gone. */
  forget(connection: PusherConnection): void;
  /** The connection signed in as `connection.user`. */
  signedIn(connection: PusherConnection): void;
  /** Publishes an event, leaving `except` out of its delivery. */
  publish(channel: string, event: string, data: unknown, except: PusherConnection): Promise<unknown>;
}

/** A publication one connection must not get: a trigger with its `socket_id`, or its own client event. */
interface Exclusion {
  channel: string;
  event: string;
  json: string;
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
 * Its channels (`PusherChannels`, channels.ts) are the hub's subscriptions on the Herald channels of the
 * same names; sign-in, client events and exclusions are its own.
 */
export class PusherConnection extends SocketSink implements Sink {
  readonly channels = new PusherChannels(this);
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

  /** A frame encoded already. */
  sendFrame(frame: Buffer): void {
    this.enqueue(frame);
  }

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
        this.channels.presenceChanged(frame.type, frame.channel, frame.member);
      else if (frame.type === 'unsub') this.channels.resubscribe(frame.channel);
      else if (frame.type === 'disconnect') this.error(frame.reason, pusherCloseCode(frame.code));
    }
  }

  sendPublication(delivery: Delivery): void {
    const { pub } = delivery;
    const resumable = this.channels.get(pub.channel)?.resumable === true;
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
        await this.channels.subscribe(fields);
        return;
      case 'pusher:unsubscribe':
        this.channels.unsubscribe(fields.channel);
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
    const sub = typeof channel === 'string' ? this.channels.get(channel) : undefined;
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
      this.transport.webhooks?.clientEvent(this.app, {
        channel,
        event,
        data,
        socketId: this.socketId,
        userId: sub.member?.user_id,
      });
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
}

export type { Exclusion };
