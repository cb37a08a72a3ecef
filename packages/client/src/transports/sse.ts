import {
  CONTROL_EVENT,
  encodeCursor,
  type PublicationPush,
  type Push,
  type RefreshCommand,
  type SseConnectedEvent,
  type SseControlEvent,
  type StreamPosition,
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
  /**
   * The `since` each channel was subscribed with, until the stream positions it: whether recovered
   * publications follow its `subscribed` event. Where a channel stands afterwards is the client's to know.
   */
  private readonly asked = new Map<string, StreamPosition>();
  /** Channels whose recovered publications are being gathered into their result, up to `until`. */
  private readonly recovering = new Map<string, { result: SubscribeResult; until: number }>();
  /** A channel was refused in the URL: every channel goes by action, so only refused ones fail. */
  private oneByOne = false;

  protected actionFields(): Record<string, unknown> {
    return this.session === undefined ? {} : { session: this.session };
  }

  protected connect(id: number, subs: Record<string, SubscribeOptions>): void {
    const entries = Object.entries(subs);
    this.asked.clear();
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
    void this.open(inUrl, subs);
  }

  /** Opens the stream of `channels`, resuming each from the `since` the connect command gives it. */
  private async open(channels: string[], subs: Record<string, SubscribeOptions>): Promise<void> {
    const url = endpointUrl(this.base, '/connection/sse');
    const cursor: Array<[string, StreamPosition]> = [];
    for (const channel of channels) {
      url.searchParams.append('channel', channel);
      const since = subs[channel].since;
      if (since) {
        cursor.push([channel, since]);
        this.asked.set(channel, since);
      }
    }
    if (cursor.length > 0) url.searchParams.set('lastEventId', encodeCursor(cursor));
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
    const since = this.asked.get(channel);
    this.asked.delete(channel);
    if (recovered && since && since.epoch === epoch && offset > since.offset) {
      this.recovering.set(channel, { result, until: offset });
      return;
    }
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
    if (options.since) this.asked.set(channel, options.since);
    else this.asked.delete(channel);
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
    this.asked.delete(command.channel);
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
