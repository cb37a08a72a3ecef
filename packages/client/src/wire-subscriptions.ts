import {
  type ConnectResult,
  type ErrorBody,
  isDuplicate,
  type PublicationPush,
  type StreamPosition,
  type SubscribeOptions,
  type SubscribeResult,
  type UnsubscribePush,
} from '@herald/protocol';
import type { Attempt, CommandBody } from './attempt.ts';
import { type HeraldClientError, isTransient } from './errors.ts';
import type { LinkEvent, WireSubscribeOptions } from './link.ts';

/** One wire subscription, shared by every consumer (tab, component) of the channel. */
export interface WireSub {
  channel: string;
  consumers: Set<string>;
  /**
   * The last position that reached this connection. A resubscribe resumes from the client's position
   * for the channel (`positionOf`); this one stands in only for channels no local client holds (those a
   * leader tab serves for other tabs).
   */
  position: StreamPosition | undefined;
  getToken: WireSubscribeOptions['getToken'];
  status: 'idle' | 'subscribing' | 'subscribed' | 'unsubscribing' | 'failed';
  /** A failure worth retrying on the next connect. */
  retry: boolean;
}

/** What the wire subscriptions need of their connection. */
export interface WireHost {
  /** The connection's current attempt; commands go out on it once it is connected. */
  current(): Attempt | null;
  emit(event: LinkEvent): void;
}

/**
 * The channels the connection holds on the wire for its consumers, each moved toward what its consumers
 * want one command at a time, and resumed on every connect from the client's position for the channel.
 */
export class WireSubscriptions {
  private readonly subs = new Map<string, WireSub>();

  constructor(
    private readonly host: WireHost,
    private readonly requestTimeout: number,
    /** The client's position for a channel: where its delivery stands (see Channel). */
    private readonly positionOf: (channel: string) => StreamPosition | undefined,
  ) {}

  subscribe(consumer: string, channel: string, options: WireSubscribeOptions): void {
    let sub = this.subs.get(channel);
    if (!sub) {
      sub = {
        channel,
        consumers: new Set(),
        position: options.since,
        getToken: options.getToken,
        status: 'idle',
        retry: false,
      };
      this.subs.set(channel, sub);
    }
    const isNew = !sub.consumers.has(consumer);
    sub.consumers.add(consumer);
    if (sub.status === 'failed') sub.status = 'idle'; // a new subscriber is worth another try
    if (isNew && sub.status === 'subscribed' && sub.position) {
      const { epoch, offset } = sub.position;
      this.host.emit({
        type: 'subscribed',
        channel,
        to: consumer,
        result: { channel, epoch, offset, publications: [] },
      });
    }
    this.reconcile(sub);
  }

  unsubscribe(consumer: string, channel: string): void {
    const sub = this.subs.get(channel);
    if (!sub?.consumers.delete(consumer)) return;
    this.reconcile(sub);
  }

  /** Releases every subscription of a consumer that went away (a closed tab). */
  dropConsumer(consumer: string): void {
    for (const sub of [...this.subs.values()]) {
      if (sub.consumers.delete(consumer)) this.reconcile(sub);
    }
  }

  /**
   * The subscriptions a `connect` command carries, with their options (without a prototype, so a channel
   * named `__proto__` is sent like any other). Rejects when a channel's `getToken` fails.
   */
  async forConnect(): Promise<{ subs: Record<string, SubscribeOptions>; included: WireSub[] }> {
    const subs: Record<string, SubscribeOptions> = Object.create(null);
    const included: WireSub[] = [];
    for (const sub of this.subs.values()) {
      if (sub.consumers.size === 0 || (sub.status === 'failed' && !sub.retry)) continue;
      subs[sub.channel] = await this.subscribeOptions(sub);
      included.push(sub);
    }
    return { subs, included };
  }

  /** The `connect` command with `included` went out. */
  connecting(included: WireSub[]): void {
    for (const sub of included) sub.status = 'subscribing';
  }

  /** The hub answered `connect` with each included channel's outcome; the others follow now. */
  connected(outcomes: ConnectResult['subs'], included: WireSub[]): void {
    for (const sub of included) {
      const outcome = outcomes[sub.channel];
      if (!outcome) sub.status = 'idle';
      else if ('error' in outcome) this.subscribeFailed(sub, outcome.error, isTransient(outcome.error.code));
      else this.subscribed(sub, outcome);
    }
    for (const sub of [...this.subs.values()]) this.reconcile(sub);
  }

  /** The attempt ended: every channel is to be subscribed again on the next one. */
  disconnected(): void {
    for (const sub of [...this.subs.values()]) {
      if (sub.status === 'subscribing' || sub.status === 'subscribed' || sub.status === 'unsubscribing')
        sub.status = 'idle';
      if (sub.consumers.size === 0) this.subs.delete(sub.channel);
    }
  }

  /** A publication reached this connection. */
  published(push: PublicationPush): void {
    const sub = this.subs.get(push.channel);
    if (sub && (!sub.position || !isDuplicate(sub.position, push)))
      sub.position = { epoch: push.epoch, offset: push.offset };
  }

  /** The hub ended a subscription: take it up again, or report why not. */
  ended(push: UnsubscribePush): void {
    const sub = this.subs.get(push.channel);
    if (!sub) return;
    if (push.resubscribe) {
      sub.status = 'idle';
      this.reconcile(sub);
    } else this.subscribeFailed(sub, { code: push.code, message: push.reason }, false);
  }

  /**
   * Where a channel resumes from, on any transport: the client's position (see Channel), or for a channel
   * no local client holds (one a leader tab serves for other tabs) the last position that reached here.
   */
  position(channel: string): StreamPosition | undefined {
    return this.positionOf(channel) ?? this.subs.get(channel)?.position;
  }

  /**
   * Moves one wire subscription toward what its consumers want, one command at a time, so that fast
   * subscribe/unsubscribe sequences reach the hub in order and never as `already_subscribed`.
   */
  private reconcile(sub: WireSub): void {
    const wanted = sub.consumers.size > 0;
    if (!wanted && (sub.status === 'idle' || sub.status === 'failed')) {
      this.subs.delete(sub.channel);
      return;
    }
    const attempt = this.host.current();
    if (!attempt?.connected) return;
    if (wanted && sub.status === 'idle') void this.wireSubscribe(attempt, sub);
    else if (!wanted && sub.status === 'subscribed') {
      sub.status = 'unsubscribing';
      attempt.call({ type: 'unsubscribe', channel: sub.channel }, this.requestTimeout).then(
        () => this.settled(attempt, sub, 'idle'),
        () => this.settled(attempt, sub, 'idle'),
      );
    }
  }

  private async wireSubscribe(attempt: Attempt, sub: WireSub): Promise<void> {
    sub.status = 'subscribing';
    let command: CommandBody;
    try {
      command = { type: 'subscribe', channel: sub.channel, ...(await this.subscribeOptions(sub)) };
    } catch (err) {
      this.subscribeFailed(sub, { code: 'unauthorized', message: `getToken failed: ${String(err)}` }, false);
      return;
    }
    if (attempt !== this.host.current()) return;
    try {
      const result = (await attempt.call(command, this.requestTimeout)) as SubscribeResult;
      if (attempt !== this.host.current()) return;
      this.subscribed(sub, result);
    } catch (err) {
      if (attempt !== this.host.current()) return;
      const error = err as HeraldClientError;
      this.subscribeFailed(sub, error.toJSON(), isTransient(error.code));
    }
    this.reconcile(sub);
  }

  private settled(attempt: Attempt, sub: WireSub, status: WireSub['status']): void {
    if (attempt !== this.host.current()) return;
    sub.status = status;
    this.reconcile(sub);
  }

  private async subscribeOptions(sub: WireSub): Promise<SubscribeOptions> {
    const options: SubscribeOptions = {};
    const since = this.position(sub.channel);
    if (since) options.since = since;
    const token = await sub.getToken?.();
    if (token) options.token = token;
    return options;
  }

  private subscribed(sub: WireSub, result: SubscribeResult): void {
    sub.status = 'subscribed';
    sub.retry = false;
    sub.position = { epoch: result.epoch, offset: result.offset };
    this.host.emit({ type: 'subscribed', channel: sub.channel, result });
  }

  private subscribeFailed(sub: WireSub, error: ErrorBody, retry: boolean): void {
    sub.status = 'failed';
    sub.retry = retry;
    this.host.emit({ type: 'subscribe_error', channel: sub.channel, error, final: !retry });
  }
}
