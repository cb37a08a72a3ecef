import {
  CloseCodes,
  type ConnectResult,
  type Push,
  type ServerFrame,
  type StreamPosition,
  type SubscribeOptions,
  shouldReconnect,
} from '@herald/protocol';
import { Attempt, type CommandBody } from './attempt.ts';
import { Backoff } from './backoff.ts';
import { HeraldClientError } from './errors.ts';
import type { ConnectionState, Link, LinkEvent, LinkRequest, WireSubscribeOptions } from './link.ts';
import { TokenRefresh } from './token-refresh.ts';
import { ABNORMAL_CLOSURE, type Transport } from './transport.ts';
import { UpgradeProbe } from './upgrade-probe.ts';
import { type WireSub, WireSubscriptions } from './wire-subscriptions.ts';

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

interface PendingRequest {
  request: LinkRequest;
  resolve(result: unknown): void;
  reject(error: HeraldClientError): void;
}

function isHeraldCode(code: number): boolean {
  return code >= 4000 && code <= 4999;
}

/**
 * The physical connection to the hub: picks a transport and falls back to the next when one cannot be
 * established, reconnects with backoff and full jitter, follows the close codes, watches heartbeats,
 * refreshes the token (`TokenRefresh`), and keeps the wire subscriptions (`WireSubscriptions`) so that
 * every reconnect resumes them from the client's position for each channel, whatever the transport.
 */
export class Connection implements Link {
  state: ConnectionState = { status: 'disconnected', reason: 'not connected yet', reconnect: false };
  private readonly listeners = new Set<(event: LinkEvent) => void>();
  private readonly wire: WireSubscriptions;
  private queue: PendingRequest[] = [];
  private attempt: Attempt | null = null;
  private index = 0;
  private running = false;
  private closed = false;
  private readonly backoff: Backoff;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private readonly refresh: TokenRefresh;
  private readonly upgrade: UpgradeProbe;
  private lastToken: string | undefined;

  constructor(
    private readonly options: ConnectionOptions,
    /** The client's position for a channel: where its delivery stands (see Channel). */
    positionOf: (channel: string) => StreamPosition | undefined = () => undefined,
  ) {
    if (options.transports.length === 0) throw new Error('herald: no transports to connect with');
    this.backoff = new Backoff(options.minReconnectDelay, options.maxReconnectDelay);
    this.wire = new WireSubscriptions(
      { current: () => this.attempt, emit: (event) => this.emit(event) },
      options.requestTimeout,
      positionOf,
    );
    this.refresh = new TokenRefresh(
      {
        current: () => this.attempt,
        tokenOrNone: () => this.tokenOrNone(),
        abort: (attempt, code, reason) => this.abort(attempt, code, reason),
      },
      options,
    );
    this.upgrade = new UpgradeProbe(
      {
        current: () => this.attempt,
        tokenOrNone: () => this.tokenOrNone(),
        switchOver: () => {
          this.endAttempt();
          this.index = 0;
          this.upgrade.reset();
          this.openAttempt();
        },
      },
      options,
    );
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
    this.wire.subscribe(consumer, channel, options);
  }

  unsubscribe(consumer: string, channel: string): void {
    this.wire.unsubscribe(consumer, channel);
  }

  /** Releases every subscription of a consumer that went away (a closed tab). */
  dropConsumer(consumer: string): void {
    this.wire.dropConsumer(consumer);
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
      position: (channel) => this.wire.position(channel),
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
    let token: string | undefined;
    let subs: Record<string, SubscribeOptions>;
    let included: WireSub[];
    try {
      token = await this.token();
      ({ subs, included } = await this.wire.forConnect());
    } catch (err) {
      attempt.refusal = `getToken failed: ${String(err)}`;
      this.abort(attempt, CloseCodes.serverError, attempt.refusal);
      return;
    }
    if (this.attempt !== attempt) return;
    this.wire.connecting(included);
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
    this.refresh.schedule(attempt, result.expires);
    this.wire.connected(result.subs, included);
    for (const pending of this.queue.splice(0)) this.send(attempt, pending);
    if (attempt.index > 0) this.upgrade.schedule();
    else this.upgrade.reset();
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
      case 'pub':
        this.wire.published(push);
        this.emit({ type: 'push', push });
        return;
      case 'join':
      case 'leave':
        this.emit({ type: 'push', push });
        return;
      case 'unsub':
        this.wire.ended(push);
        return;
      case 'disconnect':
        attempt.farewell = { code: push.code, reason: push.reason };
        return;
      case 'refresh':
        void this.refresh.refresh(attempt);
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
    this.refresh.stop();
    this.upgrade.stop();
    if (!attempt) return;
    attempt.conn.close();
    attempt.abandon();
    this.wire.disconnected();
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

  // ---- heartbeat

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
}
