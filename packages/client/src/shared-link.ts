import type { StreamPosition } from '@herald/protocol';
import { Connection, type ConnectionOptions } from './connection.ts';
import { HeraldClientError } from './errors.ts';
import type { ConnectionState, Link, LinkEvent, LinkRequest, WireSubscribeOptions } from './link.ts';
import type { OutboxOptions } from './outbox.ts';

/** The part of the Web Locks API used (`navigator.locks`). */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { signal?: AbortSignal },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T>;
  query?(): Promise<{ held?: Array<{ name?: string }> }>;
}

export interface BroadcastChannelLike {
  // Method syntax, so the DOM's and Node's classes (whose handlers take a MessageEvent) fit.
  onmessage: { handle(event: { data: unknown }): void }['handle'] | null;
  postMessage(message: unknown): void;
  close(): void;
}

export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike;

export interface ShareOptions {
  /** Tabs with the same key share one connection. Default: the hub URL and the token's user. */
  key: string | Promise<string>;
  locks: LockManagerLike;
  BroadcastChannel: BroadcastChannelConstructor;
}

/** Between the tabs of one key. `tab` is the sender; `to` addresses one tab. */
type Message =
  | { kind: 'hello'; tab: string }
  | { kind: 'leader'; tab: string }
  | { kind: 'sub'; tab: string; channel: string; since?: StreamPosition; token?: string }
  | { kind: 'unsub'; tab: string; channel: string }
  | { kind: 'req'; tab: string; id: number; request: LinkRequest }
  | { kind: 'res'; to: string; id: number; result?: unknown; error?: { code: string; message: string } }
  | { kind: 'event'; event: LinkEvent }
  | { kind: 'bye'; tab: string };

interface TabRequest {
  request: LinkRequest;
  resolve(result: unknown): void;
  reject(error: HeraldClientError): void;
  /** The leader it went to, if it went out. */
  sentTo?: string;
}

const STARTING: ConnectionState = { status: 'connecting', transport: '' };

export const lockNames = (key: string) => ({
  leader: `herald:${key}:leader`,
  tab: (tab: string) => `herald:${key}:tab:${tab}`,
});

/** Whether this platform can share a connection between tabs (browsers with Web Locks and BroadcastChannel). */
export function platformShareOptions(): Omit<ShareOptions, 'key'> | undefined {
  const g = globalThis as {
    document?: unknown;
    navigator?: { locks?: LockManagerLike };
    BroadcastChannel?: BroadcastChannelConstructor;
  };
  if (g.document === undefined || !g.navigator?.locks || !g.BroadcastChannel) return undefined;
  return { locks: g.navigator.locks, BroadcastChannel: g.BroadcastChannel };
}

/**
 * One hub connection for all the tabs of an origin. The tab that holds the `leader` Web Lock runs the
 * connection; the others reach it over a BroadcastChannel: their subscriptions, publishes and reads go to
 * the leader, its events come back to every tab. When the leader tab closes, its lock passes to a waiting
 * tab, which opens the connection and is told every tab's subscriptions (with their positions, so
 * nothing is lost in the hand-over). Each tab holds a lock of its own, so that the leader releases the
 * subscriptions of a tab that went away however it went.
 */
export class SharedLink implements Link {
  state: ConnectionState = STARTING;
  private readonly listeners = new Set<(event: LinkEvent) => void>();
  /** This tab's subscriptions, to tell every new leader. */
  private readonly subs = new Map<string, WireSubscribeOptions>();
  private readonly requests = new Map<number, TabRequest>();
  private nextId = 1;
  private bc: BroadcastChannelLike | undefined;
  private locks!: ReturnType<typeof lockNames>;
  /** Set while this tab leads. */
  private connection: Connection | null = null;
  private leader: string | undefined;
  private readonly watched = new Set<string>();
  private readonly stop = new AbortController();
  private release: Array<() => void> = [];
  private wantConnected = false;
  private closed = false;
  constructor(
    readonly tab: string,
    private readonly options: ShareOptions,
    private readonly connectionOptions: ConnectionOptions,
    /** Where this tab's channel stands now: what a new leader resumes it from. */
    private readonly positionOf: (channel: string) => StreamPosition | undefined,
  ) {
    void Promise.resolve(options.key).then((key) => this.start(key));
  }

  /**
   * Joins the tabs of `key` once it is known (it may wait for the first token). The tab listens and talks
   * to other tabs only once it holds its own lock, so a leader watching that lock can never find it free
   * while the tab lives.
   */
  private start(key: string): void {
    if (this.closed) return;
    this.locks = lockNames(key);
    const bc = new this.options.BroadcastChannel(`herald:${key}`);
    this.bc = bc;
    void this.hold(this.locks.tab(this.tab)).then(() => {
      if (this.closed) return;
      bc.onmessage = (event) => this.onMessage(event.data as Message);
      const { signal } = this.stop;
      this.options.locks.request(this.locks.leader, { signal }, () => this.lead()).catch(() => undefined);
      this.post({ kind: 'hello', tab: this.tab });
    });
  }

  /** Whether this tab runs the shared connection. */
  get leading(): boolean {
    return this.connection !== null;
  }

  on(listener: (event: LinkEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: LinkEvent): void {
    if (event.type === 'state') this.state = event.state;
    for (const listener of [...this.listeners]) listener(event);
  }

  private post(message: Message): void {
    if (!this.closed) this.bc?.postMessage(message);
  }

  /** Holds a lock until this link closes; resolves once it is held. */
  private hold(name: string): Promise<void> {
    return new Promise((held) => {
      this.options.locks
        .request(name, { signal: this.stop.signal }, () => {
          held();
          return new Promise<void>((r) => this.release.push(r));
        })
        .catch(() => undefined);
    });
  }

  connect(): void {
    this.wantConnected = true;
    this.connection?.connect();
  }

  /** Disconnects the shared connection when this tab leads it; other tabs are not disconnected by a follower. */
  disconnect(): void {
    this.wantConnected = false;
    this.connection?.disconnect();
  }

  close(): void {
    if (this.closed) return;
    this.post({ kind: 'bye', tab: this.tab });
    this.closed = true;
    this.connection?.close();
    this.connection = null;
    this.stop.abort();
    for (const release of this.release.splice(0)) release();
    this.bc?.close();
    for (const pending of this.requests.values())
      pending.reject(new HeraldClientError('closed', 'the client was closed'));
    this.requests.clear();
    this.listeners.clear();
  }

  // ---- as any tab

  subscribe(_consumer: string, channel: string, options: WireSubscribeOptions): void {
    this.subs.set(channel, options);
    if (this.connection) this.connection.subscribe(this.tab, channel, options);
    else if (this.leader) void this.postSub(channel, options);
  }

  unsubscribe(_consumer: string, channel: string): void {
    this.subs.delete(channel);
    if (this.connection) this.connection.unsubscribe(this.tab, channel);
    else if (this.leader) this.post({ kind: 'unsub', tab: this.tab, channel });
  }

  request(request: LinkRequest): Promise<unknown> {
    if (this.closed) return Promise.reject(new HeraldClientError('closed', 'the client was closed'));
    if (this.connection) return this.connection.request(request);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const pending: TabRequest = { request, resolve, reject };
      this.requests.set(id, pending);
      if (this.leader) this.sendRequest(id, pending);
    });
  }

  private sendRequest(id: number, pending: TabRequest): void {
    pending.sentTo = this.leader;
    this.post({ kind: 'req', tab: this.tab, id, request: pending.request });
  }

  /** A subscription token cannot cross to the leader as a function: it goes as the value it has now. */
  private async postSub(channel: string, options: WireSubscribeOptions): Promise<void> {
    const token = await options.getToken?.();
    if (this.subs.get(channel) !== options || this.connection || !this.leader) return;
    const since = this.positionOf(channel) ?? options.since;
    const message: Message = { kind: 'sub', tab: this.tab, channel };
    if (since) message.since = since;
    if (token) message.token = token;
    this.post(message);
  }

  private onMessage(message: Message): void {
    if (this.closed) return;
    if (this.connection) this.serve(message);
    else this.follow(message);
  }

  // ---- as a follower

  private follow(message: Message): void {
    switch (message.kind) {
      case 'leader':
        if (this.leader === message.tab) return;
        this.leader = message.tab;
        // A new leader knows nothing of this tab: tell it everything, from where this tab stands.
        for (const [channel, options] of this.subs) void this.postSub(channel, options);
        for (const [id, pending] of this.requests) {
          if (pending.sentTo !== undefined && pending.request.type === 'publish') {
            // Lost with the old leader, maybe after it reached the hub: the outbox retries with its key.
            this.requests.delete(id);
            pending.reject(new HeraldClientError('disconnected', 'the tab holding the connection went away'));
          } else this.sendRequest(id, pending);
        }
        return;
      case 'event':
        this.emit(message.event);
        return;
      case 'res': {
        if (message.to !== this.tab) return;
        const pending = this.requests.get(message.id);
        if (!pending) return;
        this.requests.delete(message.id);
        if (message.error) pending.reject(HeraldClientError.from(message.error));
        else pending.resolve(message.result);
        return;
      }
      default:
        return; // messages for the leader
    }
  }

  // ---- as the leader

  private async lead(): Promise<void> {
    if (this.closed) return;
    const connection = new Connection(this.connectionOptions, this.positionOf);
    this.connection = connection;
    this.leader = this.tab;
    connection.on((event) => {
      this.emit(event);
      this.post({ kind: 'event', event });
    });
    for (const [channel, options] of this.subs) {
      connection.subscribe(this.tab, channel, {
        ...options,
        since: this.positionOf(channel) ?? options.since,
      });
    }
    // Requests that waited for (or went to) a leader now go out here.
    for (const [id, pending] of this.requests) {
      this.requests.delete(id);
      if (pending.sentTo !== undefined && pending.request.type === 'publish') {
        pending.reject(new HeraldClientError('disconnected', 'the tab holding the connection went away'));
      } else connection.request(pending.request).then(pending.resolve, pending.reject);
    }
    this.post({ kind: 'leader', tab: this.tab });
    this.emit({ type: 'state', state: connection.state });
    if (this.wantConnected) connection.connect();
    // Leads until this tab's link closes; then the lock passes to another tab.
    await new Promise<void>((resolve) => this.release.push(resolve));
  }

  private serve(message: Message): void {
    const connection = this.connection!;
    switch (message.kind) {
      case 'hello':
        this.post({ kind: 'leader', tab: this.tab });
        this.post({ kind: 'event', event: { type: 'state', state: connection.state } });
        return;
      case 'sub':
        this.watch(message.tab);
        connection.subscribe(message.tab, message.channel, {
          since: message.since,
          getToken: message.token === undefined ? undefined : () => message.token,
        });
        return;
      case 'unsub':
        connection.unsubscribe(message.tab, message.channel);
        return;
      case 'req': {
        this.watch(message.tab);
        const { tab: to, id } = message;
        connection.request(message.request).then(
          (result) => this.post({ kind: 'res', to, id, result }),
          (err: HeraldClientError) => this.post({ kind: 'res', to, id, error: err.toJSON() }),
        );
        return;
      }
      case 'bye':
        connection.dropConsumer(message.tab);
        return;
      default:
        return;
    }
  }

  /** Releases a tab's subscriptions when its lock frees: the tab closed, crashed or navigated away. */
  private watch(tab: string): void {
    if (this.watched.has(tab)) return;
    this.watched.add(tab);
    this.options.locks
      .request(this.locks.tab(tab), { signal: this.stop.signal }, () => {
        this.watched.delete(tab);
        this.connection?.dropConsumer(tab);
      })
      .catch(() => undefined);
  }
}

/**
 * With tabs sharing a connection, every tab opens the same IndexedDB outbox: a message kept from a closed
 * tab is taken over by exactly one new tab (the first to look, under a lock), never sent by all of them.
 */
export function orphanRestorer(options: ShareOptions): NonNullable<OutboxOptions['restore']> {
  return async (store, owner) => {
    const key = await options.key;
    const names = lockNames(key);
    return options.locks.request(`herald:${key}:outbox`, {}, async () => {
      const snapshot = await options.locks.query?.();
      const held = new Set((snapshot?.held ?? []).map((lock) => lock.name));
      const kept = await store.load();
      const orphans = kept.filter(
        (m) => m.owner === undefined || m.owner === owner || !held.has(names.tab(m.owner)),
      );
      for (const message of orphans) {
        message.owner = owner;
        await store.put(message);
      }
      return orphans;
    });
  };
}
