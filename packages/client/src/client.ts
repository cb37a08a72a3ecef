import {
  type ChannelDefinitions,
  type ChannelSchemas,
  type HistoryOptions,
  type HistoryResult,
  type PresenceMember,
  type PresenceResult,
  type Publication,
  readWholeHistory,
  type StreamPosition,
} from '@herald/protocol';
import { Channel, type ChannelListener, type ChannelStatus } from './channel.ts';
import { Connection, type ConnectionOptions, type TokenSource } from './connection.ts';
import { Emitter } from './emitter.ts';
import { HeraldClientError } from './errors.ts';
import { identityOf } from './identity.ts';
import { randomId } from './ids.ts';
import { after, catchUp } from './joining.ts';
import type { ConnectionState, Link, LinkEvent } from './link.ts';
import { Outbox, type OutboxMessage, type PendingPublish, type PublishOptions } from './outbox.ts';
import { defaultOutboxStore, type OutboxStore } from './outbox-store.ts';
import { orphanRestorer, platformShareOptions, SharedLink, type ShareOptions } from './shared-link.ts';
import type { Transport } from './transport.ts';
import type { FetchLike } from './transports/http.ts';
import { pollTransport } from './transports/poll.ts';
import { sseTransport } from './transports/sse.ts';
import { type WebSocketConstructor, webSocketTransport } from './transports/websocket.ts';
import type { TypedClient } from './typed-client.ts';

export type TransportName = 'websocket' | 'sse' | 'poll';

export interface ClientOptions {
  /** The hub's base URL: `https://hub.example.com`, `http://127.0.0.1:8080`, or `/realtime` in a browser. */
  url: string;
  /** A fixed connection token (JWT). */
  token?: string;
  /** Called for a connection token on every connect, and again before it expires. */
  getToken?: TokenSource;
  /**
   * In order of preference. Default `['websocket', 'sse', 'poll']`: a transport that cannot be established
   * hands over to the next. Custom Transport objects may be mixed in.
   */
  transports?: Array<TransportName | Transport>;
  /** A WebSocket class where there is no global one (Node 20: `import WebSocket from 'ws'`). */
  WebSocket?: WebSocketConstructor;
  /** The fetch used by SSE, long-polling and client actions. Default: the global one. */
  fetch?: FetchLike;
  /** Connect as soon as the client is created (default), or on `connect()`. */
  autoConnect?: boolean;
  /** Reconnect backoff caps in milliseconds: full jitter in [0, min(max, min * 2^n)]. Default 500 / 20,000. */
  reconnectDelay?: { min?: number; max?: number };
  /** Milliseconds on a fallback transport before the preferred one is tried again. Default 60,000. */
  upgradeRetryDelay?: number;
  /** Milliseconds for a transport to get the hub's `connect` reply before the next one is tried. Default 10,000. */
  connectTimeout?: number;
  /** Milliseconds a request may wait for its reply on a live connection. Default 15,000. */
  requestTimeout?: number;
  /**
   * One connection for all tabs of the origin (leader election with Web Locks, BroadcastChannel between
   * tabs). Default: on where the platform has both (browsers), off elsewhere (Node). `key`: tabs with the
   * same key share; default: the URL and the user (the token's `sub`), so tabs of different users never do.
   */
  share?:
    | boolean
    | { key?: string; locks?: ShareOptions['locks']; BroadcastChannel?: ShareOptions['BroadcastChannel'] };
  outbox?: {
    /** Where unfinished messages are kept. Default: IndexedDB where available, else memory. */
    store?: OutboxStore;
    /** See OutboxOptions.idempotencyWindow. Default 110,000 ms. */
    idempotencyWindow?: number;
  };
}

export interface SubscribeOptions extends ChannelListener {
  /**
   * Resume from this position (one you stored); default: live from now. This subscriber gets what follows
   * it, also when it joins a channel other subscribers hold at another position.
   */
  since?: StreamPosition;
  /** A subscription token for channels that require one. */
  token?: string;
  /** Called for a subscription token on every (re)subscribe. */
  getToken?: () => string | undefined | Promise<string | undefined>;
}

/** One subscriber's hold on a channel; many may share a channel and its one wire subscription. */
export interface Subscription {
  readonly channel: string;
  readonly status: ChannelStatus;
  /** The last publication delivered on the channel. */
  readonly position: StreamPosition | undefined;
  unsubscribe(): void;
}

export type { HistoryOptions };

interface ClientEvents {
  state: ConnectionState;
  /** Every publication delivered on any channel of this client, once, in order per channel. */
  publication: Publication;
}

const CLOSED: ConnectionState = { status: 'closed' };

/**
 * The Herald client: a connection with fallback and resume, channels delivered exactly once in order,
 * and an outbox for publishing.
 */
export class HeraldClient {
  /** This client's name among the consumers of its connection. */
  readonly id = randomId();
  readonly outbox: Outbox;
  private readonly link: Link & { connect(): void; disconnect(): void; close(): void };
  private readonly channels = new Map<string, Channel>();
  private readonly releases = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly emitter = new Emitter<ClientEvents>();
  private closed = false;

  constructor(options: ClientOptions) {
    const share = resolveShare(options);
    const store = options.outbox?.store;
    // What the browser keeps (the shared connection, the IndexedDB outbox) is kept per user.
    const scoped =
      (share && share.key === undefined) ||
      (store === undefined && typeof globalThis.indexedDB !== 'undefined');
    const { identity, getToken } = scoped
      ? identityOf(options)
      : { identity: undefined, getToken: options.getToken };
    const scope = identity ? identity.then((user) => `${options.url}#${user}`) : options.url;
    const connection: ConnectionOptions = {
      url: options.url,
      token: options.token,
      getToken,
      transports: resolveTransports(options),
      minReconnectDelay: options.reconnectDelay?.min ?? 500,
      maxReconnectDelay: options.reconnectDelay?.max ?? 20_000,
      upgradeRetryDelay: options.upgradeRetryDelay ?? 60_000,
      connectTimeout: options.connectTimeout ?? 10_000,
      requestTimeout: options.requestTimeout ?? 15_000,
    };
    const shared = share && { ...share, key: share.key ?? scope };
    const positionOf = (channel: string) => this.position(channel);
    this.link = shared
      ? new SharedLink(this.id, shared, connection, positionOf)
      : new Connection(connection, positionOf);
    this.link.on((event) => this.onLinkEvent(event));
    this.outbox = new Outbox(this.link, store ?? defaultOutboxStore(scope), {
      owner: this.id,
      restore: shared && orphanRestorer(shared),
      idempotencyWindow: options.outbox?.idempotencyWindow ?? 110_000,
      minRetryDelay: 250,
      maxRetryDelay: 10_000,
    });
    if (options.autoConnect !== false) this.connect();
  }

  /** Whether this client runs the connection (always, unless tabs share one and another tab does). */
  get leading(): boolean {
    return this.link instanceof SharedLink ? this.link.leading : true;
  }

  get state(): ConnectionState {
    return this.closed ? CLOSED : this.link.state;
  }

  on<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  connect(): void {
    if (!this.closed) this.link.connect();
  }

  /** Disconnects and stays so until `connect()`; subscriptions and the outbox wait. */
  disconnect(): void {
    this.link.disconnect();
  }

  /** Ends the client: the connection, every subscription, pending requests. Kept outbox messages stay stored. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.releases.values()) clearTimeout(timer);
    this.releases.clear();
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    this.outbox.close();
    this.link.close();
    this.emitter.emit('state', CLOSED);
    this.emitter.clear();
  }

  // ---- channels

  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    if (this.closed) throw new HeraldClientError('closed', 'the client was closed');
    const { since, token, getToken, ...handlers } = options;
    let listener: ChannelListener = handlers;
    let state = this.channels.get(channel);
    clearTimeout(this.releases.get(channel));
    this.releases.delete(channel);
    if (!state) {
      state = new Channel(
        channel,
        (from) => this.history(channel, { since: from }),
        since,
        (pub) => this.emitter.emit('publication', pub),
      );
      this.channels.set(channel, state);
      this.link.subscribe(this.id, channel, {
        since,
        getToken: getToken ?? (token === undefined ? undefined : () => token),
      });
    } else if (state.status === 'subscribed' && state.position) {
      const { epoch, offset } = state.position;
      if (since && since.epoch === epoch && since.offset < offset) {
        // This subscriber starts further back than the channel: it first gets the difference from history.
        listener = catchUp((query) => this.history(channel, query), handlers, since, offset);
      } else {
        // Joining a live channel: tell this subscriber where it starts, as the others were told.
        if (since) listener = after(since, handlers);
        const joined = state;
        const first = listener;
        queueMicrotask(() => {
          if (joined.listeners.has(first)) first.onSubscribed?.({ epoch, offset });
        });
      }
    } else if (since) listener = after(since, handlers);
    state.listeners.add(listener);
    const held = state;
    const added = listener;
    let active = true;
    return {
      channel,
      get status() {
        return held.status;
      },
      get position() {
        return held.position;
      },
      unsubscribe: () => {
        if (!active) return;
        active = false;
        held.listeners.delete(added);
        if (held.listeners.size === 0) this.release(held);
      },
    };
  }

  /**
   * The wire unsubscribe waits a moment: a component that unmounts and mounts again at once (StrictMode,
   * a fast route change back) keeps its subscription and position instead of churning the hub.
   */
  private release(channel: Channel): void {
    const timer = setTimeout(() => {
      this.releases.delete(channel.name);
      if (channel.listeners.size > 0 || this.channels.get(channel.name) !== channel) return;
      this.channels.delete(channel.name);
      channel.close();
      this.link.unsubscribe(this.id, channel.name);
    }, 0);
    this.releases.set(channel.name, timer);
  }

  private onLinkEvent(event: LinkEvent): void {
    switch (event.type) {
      case 'state':
        if (!this.closed) this.emitter.emit('state', event.state);
        return;
      case 'push': {
        const channel = this.channels.get(event.push.channel);
        if (!channel) return;
        if (event.push.type === 'pub') {
          const { type: _type, ...publication } = event.push;
          channel.onPublication(publication);
        } else channel.onPresence(event.push.type, event.push.member);
        return;
      }
      case 'subscribed':
        if (event.to === undefined || event.to === this.id)
          this.channels.get(event.channel)?.onResult(event.result);
        return;
      case 'subscribe_error':
        this.channels.get(event.channel)?.onError(HeraldClientError.from(event.error), event.final);
        return;
    }
  }

  // ---- requests

  /** Publishes through the outbox: retried with one idempotency key until the hub confirms it. */
  publish(channel: string, data: unknown, options?: PublishOptions): PendingPublish {
    return this.outbox.publish(channel, data, options);
  }

  /**
   * The last publication delivered on a channel this client is subscribed to: the client's one position
   * for it, which every resubscribe (on any transport, or by a new leader tab) resumes from.
   */
  position(channel: string): StreamPosition | undefined {
    return this.channels.get(channel)?.position;
  }

  /** Unfinished outbox messages, for showing their state. */
  pending(channel?: string): OutboxMessage[] {
    return this.outbox.list(channel);
  }

  /** What history holds of `channel` as asked; pages the hub cut to fit its send queue are followed. */
  async history(channel: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    return readWholeHistory(
      async (query) => (await this.link.request({ type: 'history', channel, ...query })) as HistoryResult,
      options,
    );
  }

  async presence(channel: string): Promise<PresenceMember[]> {
    const result = (await this.link.request({ type: 'presence', channel })) as PresenceResult;
    return Object.values(result.members);
  }
}

function resolveTransports(options: ClientOptions): Transport[] {
  const wanted = options.transports ?? ['websocket', 'sse', 'poll'];
  return wanted.map((t) => {
    if (typeof t !== 'string') return t;
    switch (t) {
      case 'websocket':
        return webSocketTransport({ WebSocket: options.WebSocket });
      case 'sse':
        return sseTransport({ fetch: options.fetch });
      case 'poll':
        return pollTransport({ fetch: options.fetch });
      default:
        throw new Error(`herald: unknown transport "${String(t)}"`);
    }
  });
}

/** Sharing as configured, or as the platform allows; `key` undefined means "the URL and the user". */
function resolveShare(options: ClientOptions): (Omit<ShareOptions, 'key'> & { key?: string }) | undefined {
  if (options.share === false) return undefined;
  const given = typeof options.share === 'object' ? options.share : {};
  const platform = platformShareOptions();
  const locks = given.locks ?? platform?.locks;
  const BroadcastChannel = given.BroadcastChannel ?? platform?.BroadcastChannel;
  if (!locks || !BroadcastChannel) return undefined;
  return { key: given.key === undefined ? undefined : String(given.key), locks, BroadcastChannel };
}

/**
 * A client connected to the hub at `options.url` (unless `autoConnect: false`). With `channels`
 * (`defineChannels`, shared with the server) its `subscribe`, `publish` and `history` are typed; the
 * channels are for the compiler only, the hub checks data at run time.
 */
export function createClient<S extends ChannelSchemas>(
  options: ClientOptions & { channels: ChannelDefinitions<S> },
): TypedClient<S>;
export function createClient(options: ClientOptions): HeraldClient;
export function createClient(options: ClientOptions & { channels?: ChannelDefinitions }): object {
  const { channels: _types, ...rest } = options;
  return new HeraldClient(rest);
}
