import {
  CONTROL_EVENT,
  encodeCursor,
  type PublicationPush,
  type Push,
  type RefreshCommand,
  type SseConnectedEvent,
  type SseControlEvent,
  type SubscribeCommand,
  type SubscribedEvent,
  type SubscribeOptions,
  type SubscribeResult,
  type UnsubscribeCommand,
} from '@herald/protocol';
import type { HeraldClientError } from '../errors.ts';
import { ABNORMAL_CLOSURE, endpointUrl, type Transport } from '../transport.ts';
import {
  clientAction,
  closeCodeOf,
  fetchOf,
  type HttpOptions,
  headersFor,
  readRefusal,
  refusesChannel,
} from './http.ts';
import { type ChannelOutcome, channelError, HttpConnection } from './http-connection.ts';
import { SseParser } from './sse-parser.ts';

/**
 * Herald over Server-Sent Events: `GET /connection/sse` read with fetch (so the token goes in a header
 * and a refusal's status is readable), client actions for everything sent.
 */
export function sseTransport(options: HttpOptions = {}): Transport {
  return {
    name: 'sse',
    open: (url, handlers) => new SseConnection(url, handlers, fetchOf(options)),
  };
}

/** The `connect` command being answered. */
interface Connecting {
  id: number;
  subs: Record<string, SubscribeOptions>;
  /** Channels not positioned yet. */
  waiting: Set<string>;
  outcomes: Record<string, ChannelOutcome>;
  /** Channels to subscribe by action once the stream is open (those with subscription tokens). */
  byAction: Array<[string, SubscribeOptions]>;
}

class SseConnection extends HttpConnection {
  private session: string | undefined;
  private hello: SseConnectedEvent | undefined;
  private abort: AbortController | undefined;
  private connecting: Connecting | undefined;
  /** Pushes that arrive before the connect reply wait for it. */
  private held: Push[] | null = null;
  /** Channels whose `subscribed` event a subscribe command waits for. */
  private readonly awaited = new Map<string, number>();
  /** Channels whose recovered publications are being gathered into their result, up to `until`. */
  private readonly recovering = new Map<string, { result: SubscribeResult; until: number }>();
  /** A channel was refused in the URL: every channel goes by action, so only refused ones fail. */
  private oneByOne = false;

  protected actionFields(): Record<string, unknown> {
    return this.session === undefined ? {} : { session: this.session };
  }

  protected connect(id: number, subs: Record<string, SubscribeOptions>): void {
    const entries = Object.entries(subs);
    for (const [channel, options] of entries) if (options.since) this.positions.set(channel, options.since);
    // Channels with a subscription token can only be subscribed by action (the URL has no room for it).
    const inUrl = this.oneByOne ? [] : entries.filter(([, o]) => o.token === undefined).map(([c]) => c);
    this.connecting = {
      id,
      subs,
      waiting: new Set(inUrl),
      // Keyed by channel without a prototype, so a channel named `__proto__` is one like any other.
      outcomes: Object.create(null),
      byAction: entries.filter(([c]) => !inUrl.includes(c)),
    };
    this.held = [];
    void this.open(inUrl);
  }

  private async open(channels: string[]): Promise<void> {
    const url = endpointUrl(this.base, '/connection/sse');
    for (const channel of channels) url.searchParams.append('channel', channel);
    const held = this.positionsOf(channels);
    if (held.length > 0) url.searchParams.set('lastEventId', encodeCursor(held));
    const abort = new AbortController();
    this.abort = abort;
    let response: Response;
    try {
      response = await this.fetchFn(url.href, {
        headers: headersFor(this.token, { accept: 'text/event-stream' }),
        signal: abort.signal,
        cache: 'no-store',
      });
    } catch (err) {
      this.end(ABNORMAL_CLOSURE, `the SSE request failed: ${String(err)}`);
      return;
    }
    if (this.closed) return;
    if (!response.ok) {
      const refusal = await readRefusal(response);
      if (refusesChannel(refusal) && channels.length > 0 && this.connecting) {
        // One refused channel refuses the whole stream: open it bare and subscribe each channel by itself.
        this.oneByOne = true;
        this.connect(this.connecting.id, this.connecting.subs);
        return;
      }
      this.end(closeCodeOf(refusal), refusal.message);
      return;
    }
    if (!response.body || !response.headers.get('content-type')?.startsWith('text/event-stream')) {
      // A proxy answering for the hub: this transport does not get through.
      this.end(ABNORMAL_CLOSURE, 'the answer is not an event stream');
      return;
    }
    const parser = new SseParser(
      (event) => this.onEvent(event.event, event.data),
      () => this.deliver({ type: 'ping' }),
    );
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.closed) break;
        parser.push(value);
      }
    } catch {
      // cut, or cancelled by close()
    }
    this.end(ABNORMAL_CLOSURE, 'the event stream ended');
  }

  protected stop(): void {
    this.abort?.abort();
  }

  private onEvent(name: string, data: string): void {
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      return; // not the hub's
    }
    if (name !== CONTROL_EVENT) {
      this.onPublication(message as PublicationPush);
      return;
    }
    const control = message as SseControlEvent;
    switch (control.type) {
      case 'connected':
        this.session = control.session;
        this.hello = control;
        this.maybeConnected();
        return;
      case 'subscribed':
        this.onSubscribed(control);
        return;
      case 'unsubscribed':
        return;
      case 'disconnect':
        this.push(control); // says why the stream is about to end: never held back
        return;
      default:
        this.deliver(control);
    }
  }

  private deliver(push: Push): void {
    if (this.held) this.held.push(push);
    else this.push(push);
  }

  private onSubscribed(event: SubscribedEvent): void {
    const { channel, epoch, offset, recovered } = event;
    const result: SubscribeResult = { channel, epoch, offset, publications: [] };
    if (recovered !== undefined) result.recovered = recovered;
    const since = this.positions.get(channel);
    if (recovered && since && since.epoch === epoch && offset > since.offset) {
      this.recovering.set(channel, { result, until: offset });
      return;
    }
    this.positions.set(channel, { epoch, offset });
    this.positioned(result);
  }

  private onPublication(pub: PublicationPush): void {
    const recovery = this.recovering.get(pub.channel);
    if (!recovery) {
      this.deliver(pub);
      return;
    }
    const { type: _type, ...publication } = pub;
    recovery.result.publications.push(publication);
    this.positions.set(pub.channel, { epoch: pub.epoch, offset: pub.offset });
    if (pub.offset >= recovery.until) {
      this.recovering.delete(pub.channel);
      this.positioned(recovery.result);
    }
  }

  /** A channel's result is complete: it answers the connect command or a subscribe command. */
  private positioned(result: SubscribeResult): void {
    const connecting = this.connecting;
    if (connecting?.waiting.delete(result.channel)) {
      connecting.outcomes[result.channel] = result;
      this.maybeConnected();
      return;
    }
    const id = this.awaited.get(result.channel);
    if (id === undefined) return;
    this.awaited.delete(result.channel);
    this.reply(id, result);
  }

  private maybeConnected(): void {
    const connecting = this.connecting;
    const hello = this.hello;
    if (!connecting || !hello || connecting.waiting.size > 0) return;
    if (connecting.byAction.length > 0) {
      for (const [channel, options] of connecting.byAction.splice(0)) {
        connecting.waiting.add(channel);
        this.subscribeByAction(channel, options, (error) => {
          connecting.waiting.delete(channel);
          connecting.outcomes[channel] = channelError(error);
          this.maybeConnected();
        });
      }
      return;
    }
    this.connecting = undefined;
    const result = {
      client: hello.client,
      user: hello.user,
      ping: hello.heartbeat,
      subs: connecting.outcomes,
      ...(hello.expires === undefined ? {} : { expires: hello.expires }),
    };
    this.connected(connecting.id, result);
    const held = this.held ?? [];
    this.held = null;
    for (const push of held) this.push(push);
  }

  /** The stream announces the channel (`subscribed`, then what it recovers); the answer only tells of a refusal. */
  private subscribeByAction(
    channel: string,
    options: SubscribeOptions,
    refused: (error: HeraldClientError) => void,
  ): void {
    if (options.since) this.positions.set(channel, options.since);
    else this.positions.delete(channel);
    const body: Record<string, unknown> = { channel, ...options, ...this.actionFields() };
    clientAction(this.fetchFn, this.base, 'subscribe', body, this.token).catch(refused);
  }

  protected subscribe(command: SubscribeCommand): void {
    const { id, channel, since, token } = command;
    this.awaited.set(channel, id);
    const options: SubscribeOptions = {};
    if (since) options.since = since;
    if (token) options.token = token;
    this.subscribeByAction(channel, options, (error) => {
      if (this.awaited.get(channel) !== id) return;
      this.awaited.delete(channel);
      this.replyError(id, error);
    });
  }

  protected unsubscribe(command: UnsubscribeCommand): void {
    this.positions.delete(command.channel);
    this.recovering.delete(command.channel);
    this.action(command.id, 'unsubscribe', { channel: command.channel });
  }

  protected refresh(command: RefreshCommand): void {
    // The new token authenticates the refresh itself (same user as the stream), then every later action.
    const body = { token: command.token, ...this.actionFields() };
    clientAction(this.fetchFn, this.base, 'refresh', body, command.token).then(
      (result) => {
        this.token = command.token;
        this.reply(command.id, result);
      },
      (err: HeraldClientError) => this.replyError(command.id, err),
    );
  }
}
