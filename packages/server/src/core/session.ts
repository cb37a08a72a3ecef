import { randomUUID } from 'node:crypto';
import {
  CloseCodes,
  type Command,
  type ConnectCommand,
  type ConnectResult,
  decodeFrame,
  HeraldError,
  type HistoryResult,
  type PongCommand,
  type PresenceMember,
  type PresenceResult,
  type PublishResult,
  type StreamPosition,
  type SubscribeCommand,
  type SubscribeOptions,
  shouldReconnect,
} from '@herald/protocol';
import type { HeraldConfig } from '../config.ts';
import type { Admission } from './admission.ts';
import { ANONYMOUS, type ConnectContext, type Credentials, type Identity, NO_CREDENTIALS } from './auth.ts';
import type { Lifecycle } from './lifecycle.ts';
import { type RateKind, rateOf, TokenBucket } from './limits.ts';
import type { Logger } from './logger.ts';
import type { PublishInput } from './payload.ts';
import { SessionSubscriptions } from './session-subscriptions.ts';
import type { Sink } from './sink.ts';
import type { PositionedSubscription } from './subscription.ts';

/** What a session needs of the hub that opened it (`HubCore`). */
export interface SessionHost {
  readonly config: HeraldConfig;
  readonly log: Logger;
  /** The most one page may add to a connection's send queue. */
  readonly pageBytes: number;
  readonly admission: Admission;
  readonly lifecycle: Lifecycle;
  subscribe(
    session: Session,
    channel: string,
    options: { since?: StreamPosition; token?: string },
  ): Promise<PositionedSubscription>;
  unsubscribe(session: Session, channel: string): void;
  publishAs(session: Session, channel: string, input: PublishInput): Promise<PublishResult>;
  history(
    channel: string,
    query: { since?: StreamPosition; limit?: number; reverse?: boolean },
    session?: Session,
  ): Promise<HistoryResult>;
  presence(channel: string): Promise<PresenceMember[]>;
  /** The session is closed: its subscriptions and counts go. */
  released(session: Session, code: number, reason: string): void;
  dropSlowConsumer(session: Session): void;
}

/** A transport's connection, told its session when the hub opens it (`HubCore.connect`, `HubCore.open`). */
export interface SessionSink extends Sink {
  session: Session;
}

/** The commands `execute` runs: all but the connection-level ones and `subscribe` (which has two steps). */
export type SessionCommand = Exclude<Command, ConnectCommand | SubscribeCommand | PongCommand>;

/**
 * One client connection, whatever its transport: it owns its identity and credentials, subscriptions,
 * rate buckets and send-queue room, and dispatches the protocol commands.
 */
export class Session {
  readonly id = randomUUID();
  identity: Identity = ANONYMOUS;
  /** What the client connected with; the auth proxy is asked with them again on subscribe. */
  credentials: Credentials = NO_CREDENTIALS;
  readonly subscriptions = new SessionSubscriptions();
  closed = false;
  /** True once admitted (identity set and counted). */
  connected = false;
  /** When it was admitted (ms since the epoch). */
  connectedAt = 0;
  /** Whether the `refresh` push for the current token's expiry was sent. */
  expiryNotified = false;
  /** Bytes of publications in subscribe results being made, not yet queued: they count as queued. */
  unsentBytes = 0;
  /** Set by `connect`; other commands wait for it so they run with the right identity. */
  private connecting: Promise<void> | null = null;
  /** Client publishes and commands per second; each created on first use. */
  private readonly buckets: { publish?: TokenBucket; command?: TokenBucket } = {};
  /**
   * The last history command's turn, while one runs: history replies are read and queued one at a time,
   * each sized to the room its predecessors left, so a burst of them cannot build more than the queue holds.
   */
  private historyTurn: Promise<void> | null = null;

  constructor(
    readonly hub: SessionHost,
    readonly sink: Sink,
    readonly context: ConnectContext,
  ) {}

  /** Decodes and runs one text frame; every failure is answered, none escapes. */
  handleText(text: string): void {
    const decoded = decodeFrame(text, { maxSubs: this.hub.config.limits.subscriptionsPerConnection });
    let refusal: HeraldError | undefined;
    try {
      // Every frame counts, valid or not; one over the rate is answered and goes no further.
      this.takeToken('command');
    } catch (err) {
      refusal = toHeraldError(err);
    }
    if ('error' in decoded) refusal ??= decoded.error;
    else if (refusal === undefined) {
      void this.handle(decoded.command);
      return;
    }
    const { id } = decoded;
    const error = refusal.toJSON();
    this.sink.send(id === undefined ? { type: 'error', error } : { id, error });
  }

  async handle(command: Command): Promise<void> {
    if (command.type === 'pong') return;
    try {
      if (command.type === 'connect') {
        await this.connectCommand(command.token, command.subs ?? {}, command.id);
        return;
      }
      if (this.connecting) await this.connecting;
      else if (!this.connected) await this.connectCommand(undefined, {}, undefined);
      if (this.closed) return;
      if (command.type === 'subscribe') {
        const positioned = await this.subscribe(command.channel, command);
        this.reply(command.id, positioned.result);
        positioned.activate();
        return;
      }
      if (command.type === 'history') {
        const run = async () => this.reply(command.id, await this.execute(command));
        const turn = this.historyTurn ? this.historyTurn.then(run) : run();
        const tail = turn.catch(() => undefined);
        this.historyTurn = tail;
        try {
          await turn;
        } finally {
          if (this.historyTurn === tail) this.historyTurn = null;
        }
        return;
      }
      this.reply(command.id, await this.execute(command));
    } catch (err) {
      const error = toHeraldError(err);
      if (error.code === 'internal') this.hub.log.error({ err, client: this.id }, 'command failed');
      if ('id' in command) this.sink.send({ id: command.id, error: error.toJSON() });
    }
  }

  /**
   * Admits the session with `credentials` (origin, limits, token) and takes them as its own. Run by
   * `HubCore.connect` and by the WebSocket protocol's `connect` command, nothing else. Throws the refusal.
   */
  async admit(credentials: Credentials): Promise<void> {
    const identity = await this.hub.admission.admit(this, credentials);
    this.credentials = credentials;
    if (this.closed) return;
    this.connected = true;
    this.connectedAt = Date.now();
    this.identify(identity);
    const { lifecycle } = this.hub;
    if (lifecycle.observed) {
      const { id: client, context } = this;
      lifecycle.emit({ type: 'client.connected', client, user: identity.user, transport: context.transport });
    }
  }

  /** Subscribes and positions; the caller sends `result` to the client, then calls `activate`. */
  async subscribe(channel: string, options: SubscribeOptions): Promise<PositionedSubscription> {
    this.checkNotExpired();
    return this.hub.subscribe(this, channel, options);
  }

  /** Runs one command of a connected session and returns its result; throws a HeraldError refusal. */
  async execute(command: SessionCommand): Promise<unknown> {
    // Past `exp` a client may still refresh, ping and let go of channels.
    if (command.type !== 'refresh' && command.type !== 'ping' && command.type !== 'unsubscribe')
      this.checkNotExpired();
    switch (command.type) {
      case 'unsubscribe':
        this.hub.unsubscribe(this, command.channel);
        return {};
      case 'publish': {
        this.takeToken('publish');
        const { channel, data, event, idempotencyKey } = command;
        return this.hub.publishAs(this, channel, { data, event, idempotencyKey });
      }
      case 'history': {
        const { channel, since, limit, reverse } = command;
        await this.hub.admission.authorizeRead(this, channel);
        return this.hub.history(channel, { since, limit, reverse }, this);
      }
      case 'presence': {
        await this.hub.admission.authorizeRead(this, command.channel);
        const members = await this.hub.presence(command.channel);
        const result: PresenceResult = { members: Object.fromEntries(members.map((m) => [m.client, m])) };
        return result;
      }
      case 'refresh': {
        const credentials = { ...this.credentials, token: command.token };
        const identity = await this.hub.admission.authenticate(credentials, this.context);
        if (this.identity.user !== identity.user)
          throw new HeraldError('forbidden', 'a refreshed token must be for the same user');
        if (this.closed) throw new HeraldError('not_connected', 'the connection is closed');
        this.credentials = credentials;
        this.identify(identity);
        return { expires: identity.expiresAt };
      }
      case 'ping':
        return {};
    }
  }

  /**
   * Authenticates and subscribes to the initial channels. A bad token closes the connection; a refused
   * channel is reported in `subs` and does not fail the others.
   */
  private async connectCommand(
    token: string | undefined,
    subs: Record<string, { since?: StreamPosition; token?: string }>,
    id: number | undefined,
  ): Promise<void> {
    if (this.connected || this.connecting)
      throw new HeraldError('already_connected', 'connect was already sent');
    let done!: () => void;
    this.connecting = new Promise((resolve) => {
      done = resolve;
    });
    try {
      try {
        const cookie = this.context.cookie;
        await this.admit(token === undefined && cookie === undefined ? NO_CREDENTIALS : { token, cookie });
      } catch (err) {
        const error = toHeraldError(err);
        if (id !== undefined) this.sink.send({ id, error: error.toJSON() });
        this.close(connectCloseCode(error), error.message);
        return;
      }
      if (this.closed) return;
      const positioned = await Promise.all(
        Object.entries(subs).map(async ([channel, options]) => {
          try {
            return [channel, await this.hub.subscribe(this, channel, options)] as const;
          } catch (err) {
            return [channel, toHeraldError(err)] as const;
          }
        }),
      );
      if (id !== undefined) {
        const result: ConnectResult = {
          client: this.id,
          user: this.identity.user,
          ping: this.hub.config.pingInterval,
          // Own properties, so a channel named `__proto__` is reported like any other.
          subs: Object.fromEntries(
            positioned.map(([channel, outcome]) => [
              channel,
              outcome instanceof HeraldError ? { error: outcome.toJSON() } : outcome.result,
            ]),
          ),
        };
        if (this.identity.expiresAt !== undefined) result.expires = this.identity.expiresAt;
        this.reply(id, result);
      }
      for (const [, outcome] of positioned)
        if (!(outcome instanceof HeraldError)) (outcome as PositionedSubscription).activate();
    } finally {
      this.connecting = null;
      done();
    }
  }

  /** Takes a new identity (same user: a refreshed token), whose expiry the hub then watches. */
  private identify(identity: Identity): void {
    this.identity = identity;
    this.expiryNotified = false;
    this.hub.admission.identified(this);
  }

  /**
   * Called by the hub's sweep while the token is past `exp`: the client is asked to refresh
   * (`{"type":"refresh"}`) once, and closed with 4004 if it has not within `grace` ms.
   */
  expire(now: number, grace: number): void {
    const expiresAt = (this.identity.expiresAt as number) * 1000;
    if (now < expiresAt) return;
    if (now >= expiresAt + grace) {
      this.close(CloseCodes.tokenExpired, 'the connection token expired and was not refreshed');
    } else if (!this.expiryNotified) {
      this.expiryNotified = true;
      this.sink.send({
        type: 'refresh',
        code: 'token_expired',
        within: Math.ceil((expiresAt + grace - now) / 1000),
      });
    }
  }

  /** Bytes a page may still add to the send queue (negative when it is already past a page). */
  room(): number {
    return this.hub.pageBytes - this.sink.queuedBytes() - this.unsentBytes;
  }

  /** Past `exp` only `refresh`, `unsubscribe` and `ping` are served; publications keep flowing until the grace ends. */
  private checkNotExpired(): void {
    const expiresAt = this.identity.expiresAt;
    if (expiresAt !== undefined && expiresAt * 1000 <= Date.now()) {
      throw new HeraldError(
        'token_expired',
        'the connection token has expired: send refresh with a new token',
      );
    }
  }

  /**
   * Takes one publish (`rate_limited` over `limits.publishRate`) or one command of any kind
   * (`too_many_commands` over `limits.commandRate`). A per-request client's buckets outlive its requests
   * (`ConnectContext.requestClient`).
   */
  takeToken(kind: RateKind): void {
    const { rate, burst } = rateOf(this.hub.config.limits, kind);
    if (rate === 0) return;
    this.buckets[kind] ??= this.context.requestClient?.bucket(this, kind) ?? new TokenBucket(rate, burst);
    if (this.buckets[kind].take()) return;
    throw kind === 'publish'
      ? new HeraldError('rate_limited', `at most ${rate} publishes per second (burst ${burst})`)
      : new HeraldError('too_many_commands', `at most ${rate} commands per second (burst ${burst})`);
  }

  reply(id: number, result: unknown): void {
    if (!this.closed) this.sink.send({ id, result });
  }

  /** Sinks call it after queuing output: past `maxQueueBytes` the connection is a slow consumer. */
  checkQueue(): void {
    if (!this.closed && this.sink.queuedBytes() > this.hub.config.maxQueueBytes)
      this.hub.dropSlowConsumer(this);
  }

  /** Tells the client why, closes the transport, and releases every subscription. Idempotent. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (code !== CloseCodes.slowConsumer) {
      this.sink.send({ type: 'disconnect', code, reason, reconnect: shouldReconnect(code) });
    }
    this.sink.close(code, reason);
    this.hub.released(this, code, reason);
  }

  /**
   * The transport went away on its own (network, client closed), or ended the session itself (a poll
   * answered); `code` and `reason` are the transport's (a WebSocket's close frame).
   */
  transportClosed(code = 1000, reason = 'the client went away'): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.released(this, code, reason);
  }
}

/** The close code for a refused connect: whether and how the client should try again. */
function connectCloseCode(error: HeraldError): number {
  switch (error.code) {
    case 'token_expired':
      return CloseCodes.tokenExpired;
    case 'too_many_connections':
      return CloseCodes.connectionLimit;
    case 'origin_not_allowed':
    case 'forbidden':
      return CloseCodes.forbidden;
    case 'unavailable':
    case 'internal':
      return CloseCodes.serverError;
    default:
      return CloseCodes.unauthorized;
  }
}

export function toHeraldError(err: unknown): HeraldError {
  if (err instanceof HeraldError) return err;
  return new HeraldError('internal', 'internal error');
}
