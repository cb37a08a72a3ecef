import type { WebhookMember } from '@herald/protocol';
import type { PusherApp, PusherWebhook, PusherWebhookEvent } from '../../config.ts';
import { namespaceOf } from '../../core/channel-name.ts';
import type { Logger } from '../../core/logger.ts';
import { EndpointQueue, type RequestSigner } from '../../webhooks/endpoint-queue.ts';
import type { ChannelEvents } from '../../webhooks/ledger.ts';
import { newWebhookId } from '../../webhooks/signer.ts';
import { sign } from './signatures.ts';

/** Pusher's webhook signing: `X-Pusher-Key` and the hex HMAC-SHA256 of the body with the app's secret. */
class PusherSigner implements RequestSigner {
  constructor(private readonly app: PusherApp) {}

  headers(_id: string, _timestamp: number, body: string): Record<string, string> {
    return { 'x-pusher-key': this.app.key, 'x-pusher-signature': sign(this.app.secret, body) };
  }
}

interface Receiver {
  app: PusherApp;
  queue: EndpointQueue<PusherWebhook>;
}

type PusherEvent = { name: PusherWebhookEvent; channel: string } & Record<string, unknown>;

/**
 * Pusher-format webhooks (docs/pusher.md#webhooks): the lifecycle webhooks' channel events (their
 * cluster-wide sender and flap damping) and the transport's client events and cache misses, posted as
 * `{time_ms, events: [event]}` to each app's receivers through the lifecycle webhooks' delivery queues
 * (retries, bounded queue, metrics). Pusher channels are shared by the apps of a hub (a Pusher channel `x`
 * is Herald channel `x`), so every app hears of every channel without a colon.
 */
export class PusherWebhooks implements ChannelEvents {
  private readonly receivers: Receiver[];
  /** Members per presence channel and user on this node: Pusher's members are users, not connections. */
  private readonly members = new Map<string, number>();

  constructor(apps: readonly PusherApp[], log: Logger) {
    this.receivers = apps.flatMap((app) =>
      app.webhooks.map((webhook) => ({
        app,
        queue: new EndpointQueue(webhook, log, new PusherSigner(app)),
      })),
    );
  }

  get queues(): EndpointQueue[] {
    return this.receivers.map((r) => r.queue);
  }

  occupied(channel: string, at: number): void {
    if (isPusherChannel(channel)) this.emit(undefined, { name: 'channel_occupied', channel }, at);
  }

  vacated(channel: string, at: number): void {
    if (isPusherChannel(channel)) this.emit(undefined, { name: 'channel_vacated', channel }, at);
  }

  joined(channel: string, member: WebhookMember, at: number): void {
    if (!isPresence(channel) || member.user === null) return;
    const key = `${channel}\u0000${member.user}`;
    const count = (this.members.get(key) ?? 0) + 1;
    this.members.set(key, count);
    if (count === 1) this.emit(undefined, { name: 'member_added', channel, user_id: member.user }, at);
  }

  left(channel: string, member: WebhookMember, at: number): void {
    if (!isPresence(channel) || member.user === null) return;
    const key = `${channel}\u0000${member.user}`;
    const count = (this.members.get(key) ?? 0) - 1;
    if (count > 0) {
      this.members.set(key, count);
      return;
    }
    this.members.delete(key);
    this.emit(undefined, { name: 'member_removed', channel, user_id: member.user }, at);
  }

  /** A client event of `app`'s connection, sent on; `data` goes as Pusher sends it, a string. */
  clientEvent(
    app: PusherApp,
    event: { channel: string; event: string; data: unknown; socketId: string; userId?: string },
  ): void {
    const { channel, socketId, userId } = event;
    const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
    const sent: PusherEvent = {
      name: 'client_event',
      channel,
      event: event.event,
      data,
      socket_id: socketId,
    };
    if (userId !== undefined) sent.user_id = userId;
    this.emit(app, sent);
  }

  /** A subscriber of `app` found a cache channel empty. */
  cacheMiss(app: PusherApp, channel: string): void {
    this.emit(app, { name: 'cache_miss', channel });
  }

  /** Queues `event` for the receivers (of `app` only, if given) that take it, in order per channel. */
  private emit(app: PusherApp | undefined, event: PusherEvent, at = Date.now()): void {
    let body: string | undefined;
    let id: string | undefined;
    for (const receiver of this.receivers) {
      if (app !== undefined && receiver.app !== app) continue;
      const { events } = receiver.queue.endpoint;
      if (events !== undefined && !events.includes(event.name)) continue;
      body ??= JSON.stringify({ time_ms: at, events: [event] });
      id ??= newWebhookId();
      receiver.queue.push({ id, type: event.name, key: `pusher\u0000${event.channel}`, body });
    }
  }
}

function isPusherChannel(channel: string): boolean {
  return namespaceOf(channel) === '';
}

function isPresence(channel: string): boolean {
  return isPusherChannel(channel) && channel.startsWith('presence-');
}
