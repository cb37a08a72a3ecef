import {
  CloseCodes,
  type Command,
  type ConnectResult,
  type ErrorBody,
  isDuplicate,
  type Push,
  type ServerFrame,
  type StreamPosition,
  type SubscribeOptions,
  type SubscribeResult,
  shouldReconnect,
} from '@herald/protocol';
import { Backoff } from './backoff.ts';
import { HeraldClientError, isTransient } from './errors.ts';
import type { ConnectionState, Link, LinkEvent, LinkRequest, WireSubscribeOptions } from './link.ts';
import { ABNORMAL_CLOSURE, type Transport, type TransportConnection } from './transport.ts';

export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;

export interface ConnectionOptions {
  /** The hub's base URL: `https://hub.example.com`, or `/realtime` under a Next.js app. */
  url: string;
  /** A fixed connection token. */
  token?: string;
  /** Called for a token on every connect and before the current one expires. */
  getToken?: TokenSource;
  /** In order of preference; the first is tried first and tried again later after a fallback. */
  transports: Transport[];
  /** Milliseconds; the backoff's first cap. */
  minReconnectDelay: number;
  /** Milliseconds; the backoff's largest cap. */
  maxReconnectDelay: number;
  /** Milliseconds on a fallback transport before the preferred one is tried again (then doubling). */
  upgradeRetryDelay: number;
  /** Milliseconds a transport may take from opening to the `connect` reply before the next one is tried. */
  connectTimeout: number;
  /** Milliseconds a request may wait for its reply on a live connection. */
  requestTimeout: number;
}

/** One wire subscription, shared by every consumer (tab, component) of the channel. */
interface WireSub {
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

interface PendingRequest {
  request: LinkRequest;
  resolve(result: unknown): void;
  reject(error: HeraldClientError): void;
}

interface Waiter {
  resolve(result: unknown): void;
  reject(error: HeraldClientError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

type CommandBody = Command extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

/** One try of one transport, from opening to its close. */
class Attempt {
  connected = false;
  pingMs = 0;
  lastFrameAt = Date.now();
  /** The hub's `disconnect` push, which says why better than the close event. */
  farewell: { code: number; reason: string } | undefined;
  /** Why the last connect was refused (the reply's error), for the state's reason. */
  refusal: string | undefined;
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  conn!: TransportConnection;

  constructor(
    readonly transport: Transport,
    readonly index: number,
  ) {}

  call(command: CommandBody, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.waiters.delete(id);
              reject(new HeraldClientError('timeout', `no reply to ${command.type} within ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      this.waiters.set(id, { resolve, reject, timer });
      this.conn.send({ ...command, id } as Command);
    });
  }

  reply(frame: { id: number; result?: unknown; error?: ErrorBody }): void {
    const waiter = this.waiters.get(frame.id);
    if (!waiter) return;
    this.waiters.delete(frame.id);
    clearTimeout(waiter.timer);
    if (frame.error) waiter.reject(HeraldClientError.from(frame.error));
    else waiter.resolve(frame.result);
  }

  /** Fails every request still waiting: the connection they went out on is gone. */
  abandon(): void {
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new HeraldClientError('disconnected', 'the connection closed before the reply'));
    }
    this.waiters.clear();
  }
}

function isHeraldCode(code: number): boolean {
  return code >= 4000 && code <= 4999;
}

/**
 * The physical connection to the hub: picks a transport and falls back to the next when one cannot be
 * established, reconnects with backoff and full jitter, follows the close codes, watches heartbeats,
 * refreshes the token, and keeps the wire subscriptions so that every reconnect resumes them from the
 * client's position for each channel, whatever the transport.
 */
export class Connection implements Link {
  state: ConnectionState = { status: 'disconnected', reason: 'not connected yet', reconnect: false };
  private readonly listeners = new Set<(event: LinkEvent) => void>();
  private readonly subs = new Map<string, WireSub>();
  private queue: PendingRequest[] = [];
  private attempt: Attempt | null = null;
  private index = 0;
  private running = false;
  private closed = false;
  private readonly backoff: Backoff;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private upgradeTimer: ReturnType<typeof setTimeout> | undefined;
  private upgradeDelay: number;
  private probe: TransportConnection | undefined;
  private lastToken: string | undefined;

  constructor(
    private readonly options: ConnectionOptions,
    /** The client's position for a channel: where its delivery stands (see Channel). */
    private readonly positionOf: (channel: string) => StreamPosition | undefined = () => undefined,
  ) {
    if (options.transports.length === 0) throw new Error('herald: no transports to connect with');
    this.backoff = new Backoff(options.minReconnectDelay, options.maxReconnectDelay);
    this.upgradeDelay = options.upgradeRetryDelay;
  }

  on(listener: (event: LinkEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: LinkEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.emit({ type: 'state', state });
  }

  /** Starts connecting (again, after `disconnect`). */
  connect(): void {
    if (this.closed || this.running) return;
    this.running = true;
    this.backoff.reset();
    this.openAttempt();
  }

  /** Closes the connection and stays disconnected until `connect`. Subscriptions are kept for then. */
  disconnect(reason = 'disconnected by the app'): void {
    if (this.closed || !this.running) return;
    this.running = false;
    this.endAttempt();
    this.setState({ status: 'disconnected', reason, reconnect: false });
  }

  /** Ends everything for good; pending requests fail with `closed`. */
  close(): void {
    if (this.closed) return;
    this.running = false;
    this.closed = true;
    this.endAttempt();
    for (const pending of this.queue.splice(0))
      pending.reject(new HeraldClientError('closed', 'the client was closed'));
    this.setState({ status: 'closed' });
    this.listeners.clear();
  }

  // ---- requests

  request(request: LinkRequest): Promise<unknown> {
    if (this.closed) return Promise.reject(new HeraldClientError('closed', 'the client was closed'));
    return new Promise((resolve, reject) => {
      const pending: PendingRequest = { request, resolve, reject };
      if (this.attempt?.connected) this.send(this.attempt, pending);
      else this.queue.push(pending);
    });
  }

  private send(attempt: Attempt, pending: PendingRequest): void {
    attempt.call(pending.request, this.options.requestTimeout).then(pending.resolve, (err) => {
      // Reads are safe to repeat: they wait for the next connection. A publish is the outbox's to retry,
      // since only it knows the idempotency key makes that safe.
      if (err.code === 'disconnected' && pending.request.type !== 'publish' && !this.closed) {
        if (this.attempt?.connected) this.send(this.attempt, pending);
        else this.queue.push(pending);
      } else pending.reject(err);
    });
  }

  // ---- wire subscriptions

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
      this.emit({
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
   * Moves one wire subscription toward what its consumers want, one command at a time, so that fast
   * subscribe/unsubscribe sequences reach the hub in order and never as `already_subscribed`.
   */
  private reconcile(sub: WireSub): void {
    const wanted = sub.consumers.size > 0;
    if (!wanted && (sub.status === 'idle' || sub.status === 'failed')) {
      this.subs.delete(sub.channel);
      return;
    }
    const attempt = this.attempt;
    if (!attempt?.connected) return;
    if (wanted && sub.status === 'idle') void this.wireSubscribe(attempt, sub);
    else if (!wanted && sub.status === 'subscribed') {
      sub.status = 'unsubscribing';
      attempt.call({ type: 'unsubscribe', channel: sub.channel }, this.options.requestTimeout).then(
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
    if (attempt !== this.attempt) return;
    try {
      const result = (await attempt.call(command, this.options.requestTimeout)) as SubscribeResult;
      if (attempt !== this.attempt) return;
      this.subscribed(sub, result);
    } catch (err) {
      if (attempt !== this.attempt) return;
      const error = err as HeraldClientError;
      this.subscribeFailed(sub, error.toJSON(), isTransient(error.code));
    }
    this.reconcile(sub);
  }

  private settled(attempt: Attempt, sub: WireSub, status: WireSub['status']): void {
    if (attempt !== this.attempt) return;
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

  /**
   * Where a channel resumes from, on any transport: the client's position (see Channel), or for a channel
   * no local client holds (one a leader tab serves for other tabs) the last position that reached here.
   */
  private position(channel: string): StreamPosition | undefined {
    return this.positionOf(channel) ?? this.subs.get(channel)?.position;
  }

  private subscribed(sub: WireSub, result: SubscribeResult): void {
    sub.status = 'subscribed';
    sub.retry = false;
    sub.position = { epoch: result.epoch, offset: result.offset };
    this.emit({ type: 'subscribed', channel: sub.channel, result });
  }

  private subscribeFailed(sub: WireSub, error: ErrorBody, retry: boolean): void {
    sub.status = 'failed';
    sub.retry = retry;
    this.emit({ type: 'subscribe_error', channel: sub.channel, error, final: !retry });
  }

  // ---- the connection's life

  private openAttempt(): void {
    clearTimeout(this.retryTimer);
    const transport = this.options.transports[this.index];
    const attempt = new Attempt(transport, this.index);
    this.attempt = attempt;
    this.setState({ status: 'connecting', transport: transport.name });
    const connectTimer = setTimeout(() => {
      if (this.attempt === attempt && !attempt.connected)
        this.abort(attempt, ABNORMAL_CLOSURE, `no connect reply within ${this.options.connectTimeout} ms`);
    }, this.options.connectTimeout);
    attempt.conn = transport.open(this.options.url, {
      open: () => {
        if (this.attempt === attempt) void this.sendConnect(attempt);
      },
      frame: (frame) => {
        if (this.attempt === attempt) this.onFrame(attempt, frame);
      },
      close: ({ code, reason }) => {
        clearTimeout(connectTimer);
        if (this.attempt === attempt) this.onClose(attempt, code, reason);
      },
      position: (channel) => this.position(channel),
    });
  }

  private async token(): Promise<string | undefined> {
    const token = this.options.getToken ? await this.options.getToken() : this.options.token;
    this.lastToken = token ?? undefined;
    return this.lastToken;
  }

  /** A token, or none when `getToken` failed (the caller decides what that means). */
  private async tokenOrNone(): Promise<string | undefined> {
    try {
      return await this.token();
    } catch {
      return undefined;
    }
  }

  private async sendConnect(attempt: Attempt): Promise<void> {
    // Without a prototype, so a channel named `__proto__` is sent like any other.
    const subs: Record<string, SubscribeOptions> = Object.create(null);
    const included: WireSub[] = [];
    let token: string | undefined;
    try {
      token = await this.token();
      for (const sub of this.subs.values()) {
        if (sub.consumers.size === 0 || (sub.status === 'failed' && !sub.retry)) continue;
        subs[sub.channel] = await this.subscribeOptions(sub);
        included.push(sub);
      }
    } catch (err) {
      attempt.refusal = `getToken failed: ${String(err)}`;
      this.abort(attempt, CloseCodes.serverError, attempt.refusal);
      return;
    }
    if (this.attempt !== attempt) return;
    for (const sub of included) sub.status = 'subscribing';
    const command: CommandBody = { type: 'connect', subs };
    if (token) command.token = token;
    let result: ConnectResult;
    try {
      result = (await attempt.call(command, 0)) as ConnectResult;
    } catch (err) {
      // The hub closes the connection after a refused connect; its close code decides what follows.
      attempt.refusal = (err as Error).message;
      return;
    }
    if (this.attempt === attempt) this.onConnected(attempt, result, included);
  }

  private onConnected(attempt: Attempt, result: ConnectResult, included: WireSub[]): void {
    attempt.connected = true;
    attempt.pingMs = result.ping * 1000;
    attempt.lastFrameAt = Date.now();
    this.backoff.reset();
    this.setState({
      status: 'connected',
      transport: attempt.transport.name,
      client: result.client,
      user: result.user,
    });
    this.startWatchdog(attempt);
    this.scheduleRefresh(attempt, result.expires);
    for (const sub of included) {
      const outcome = result.subs[sub.channel];
      if (!outcome) sub.status = 'idle';
      else if ('error' in outcome) this.subscribeFailed(sub, outcome.error, isTransient(outcome.error.code));
      else this.subscribed(sub, outcome);
    }
    for (const sub of [...this.subs.values()]) this.reconcile(sub);
    for (const pending of this.queue.splice(0)) this.send(attempt, pending);
    if (attempt.index > 0) this.scheduleUpgrade();
    else this.upgradeDelay = this.options.upgradeRetryDelay;
  }

  private onFrame(attempt: Attempt, frame: ServerFrame): void {
    attempt.lastFrameAt = Date.now();
    if ('id' in frame && typeof frame.id === 'number') {
      attempt.reply(frame);
      return;
    }
    const push = frame as Push;
    switch (push.type) {
      case 'ping':
        attempt.conn.send({ type: 'pong' });
        return;
      case 'pub': {
        const sub = this.subs.get(push.channel);
        if (sub && (!sub.position || !isDuplicate(sub.position, push)))
          sub.position = { epoch: push.epoch, offset: push.offset };
        this.emit({ type: 'push', push });
        return;
      }
      case 'join':
      case 'leave':
        this.emit({ type: 'push', push });
        return;
      case 'unsub': {
        const sub = this.subs.get(push.channel);
        if (!sub) return;
        if (push.resubscribe) {
          sub.status = 'idle';
          this.reconcile(sub);
        } else this.subscribeFailed(sub, { code: push.code, message: push.reason }, false);
        return;
      }
      case 'disconnect':
        attempt.farewell = { code: push.code, reason: push.reason };
        return;
      case 'refresh':
        void this.refresh(attempt);
        return;
      case 'error':
        return; // a frame of ours the hub could not match to a command: nothing waits for it
    }
  }

  /** Cuts an attempt from this side (timeout, dead heartbeat) and handles it like any close. */
  private abort(attempt: Attempt, code: number, reason: string): void {
    attempt.conn.close();
    this.onClose(attempt, code, reason);
  }

  /** Stops the current attempt and everything timed around it, without deciding what comes next. */
  private endAttempt(): void {
    const attempt = this.attempt;
    this.attempt = null;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.upgradeTimer);
    this.probe?.close();
    this.probe = undefined;
    if (!attempt) return;
    attempt.conn.close();
    attempt.abandon();
    for (const sub of [...this.subs.values()]) {
      if (sub.status === 'subscribing' || sub.status === 'subscribed' || sub.status === 'unsubscribing')
        sub.status = 'idle';
      if (sub.consumers.size === 0) this.subs.delete(sub.channel);
    }
  }

  private onClose(attempt: Attempt, closeCode: number, closeReason: string): void {
    const code = attempt.farewell?.code ?? closeCode;
    const reason = attempt.refusal ?? attempt.farewell?.reason ?? closeReason;
    this.endAttempt();
    if (!this.running) return;
    const transportFailed = !attempt.connected && !isHeraldCode(code);
    if (transportFailed && attempt.index < this.options.transports.length - 1) {
      // The transport itself did not work (upgrade refused, a proxy in the way): try the next one now.
      this.index = attempt.index + 1;
      this.openAttempt();
      return;
    }
    // Every transport failed in a row: the hub is likely down; start from the best one next time.
    if (transportFailed) this.index = 0;
    if (!shouldReconnect(code) || (code === CloseCodes.tokenExpired && !this.options.getToken)) {
      void this.maybeRetryWithNewToken(code, reason);
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  private scheduleReconnect(code: number, reason: string): void {
    const delay = this.backoff.next();
    this.setState({ status: 'disconnected', reason, code, reconnect: true });
    this.retryTimer = setTimeout(() => {
      if (this.running && !this.attempt) this.openAttempt();
    }, delay);
  }

  /**
   * A hub that refused for good (4500+) is not asked again until something changes; the one thing the
   * client can change by itself is the token, if `getToken` now gives a different one.
   */
  private async maybeRetryWithNewToken(code: number, reason: string): Promise<void> {
    const tokenCodes: number[] = [CloseCodes.unauthorized, CloseCodes.tokenExpired];
    if (this.options.getToken && tokenCodes.includes(code)) {
      const previous = this.lastToken;
      try {
        const next = await this.options.getToken();
        if (next && next !== previous && this.running && !this.attempt) {
          this.scheduleReconnect(code, reason);
          return;
        }
      } catch {
        // no new token: stay disconnected
      }
    }
    if (!this.running) return;
    this.running = false;
    for (const pending of this.queue.splice(0))
      pending.reject(new HeraldClientError('disconnected', `the hub refused the connection: ${reason}`));
    this.setState({ status: 'disconnected', reason, code, reconnect: false });
  }

  // ---- heartbeat, token refresh, upgrade

  /** The hub pings every `ping` seconds; two silent intervals mean the path is dead though no one said so. */
  private startWatchdog(attempt: Attempt): void {
    if (attempt.pingMs <= 0) return;
    const limit = 2 * attempt.pingMs + 1000;
    this.watchdog = setInterval(
      () => {
        if (this.attempt === attempt && Date.now() - attempt.lastFrameAt > limit)
          this.abort(attempt, CloseCodes.heartbeatTimeout, 'no heartbeat from the hub');
      },
      Math.max(250, attempt.pingMs / 2),
    );
  }

  private scheduleRefresh(attempt: Attempt, expires: number | undefined): void {
    clearTimeout(this.refreshTimer);
    if (expires === undefined || !this.options.getToken) return;
    const remaining = expires * 1000 - Date.now();
    // Early enough that a slow token endpoint still answers before the hub asks.
    const margin = Math.min(60_000, Math.max(1_000, remaining / 5));
    this.refreshTimer = setTimeout(() => void this.refresh(attempt), Math.max(0, remaining - margin));
  }

  private async refresh(attempt: Attempt): Promise<void> {
    clearTimeout(this.refreshTimer);
    if (!this.options.getToken) return;
    const token = await this.tokenOrNone();
    if (this.attempt !== attempt) return;
    if (!token) {
      this.abort(attempt, CloseCodes.tokenExpired, 'getToken gave no token to refresh with');
      return;
    }
    try {
      const result = (await attempt.call({ type: 'refresh', token }, this.options.requestTimeout)) as {
        expires?: number;
      };
      if (this.attempt === attempt) this.scheduleRefresh(attempt, result.expires);
    } catch (err) {
      // A refused refresh: reconnect, which asks for a token once more.
      if (this.attempt === attempt && (err as HeraldClientError).code !== 'disconnected')
        this.abort(attempt, CloseCodes.tokenExpired, `token refresh failed: ${(err as Error).message}`);
    }
  }

  /**
   * On a fallback transport, tries the preferred one now and then: a full `connect` handshake (without
   * channels) on the side. When it succeeds the client switches over: a short planned reconnect that
   * resumes every channel from its position.
   */
  private scheduleUpgrade(): void {
    clearTimeout(this.upgradeTimer);
    this.upgradeTimer = setTimeout(() => void this.probeUpgrade(), this.upgradeDelay);
  }

  private async probeUpgrade(): Promise<void> {
    const current = this.attempt;
    if (!current?.connected || current.index === 0) return;
    const token = await this.tokenOrNone();
    if (this.attempt !== current) return;
    let settled = false;
    const settle = (works: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.probe?.close();
      this.probe = undefined;
      if (this.attempt !== current) return;
      if (!works) {
        this.upgradeDelay = Math.min(this.upgradeDelay * 2, 10 * 60_000);
        this.scheduleUpgrade();
        return;
      }
      this.endAttempt();
      this.index = 0;
      this.upgradeDelay = this.options.upgradeRetryDelay;
      this.openAttempt();
    };
    const timer = setTimeout(() => settle(false), this.options.connectTimeout);
    const probe = this.options.transports[0].open(this.options.url, {
      open: () =>
        probe.send(token ? { id: 1, type: 'connect', token, subs: {} } : { id: 1, type: 'connect' }),
      frame: (frame) => {
        if ('id' in frame && frame.id === 1) settle(frame.result !== undefined);
      },
      close: () => settle(false),
      position: () => undefined, // the probe subscribes to nothing
    });
    this.probe = probe;
  }
}
