/** A position in a channel's stream. `epoch` names one incarnation of the stream; offsets grow by one per publication. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

export interface Publication {
  channel: string;
  epoch: string;
  offset: number;
  data: unknown;
  /** Event name; SSE uses it as `event:`. Absent means `message`. */
  event?: string;
  /** Milliseconds since the Unix epoch when the hub accepted it. */
  ts?: number;
}

export interface ErrorBody {
  code: string;
  message: string;
}

export interface PresenceMember {
  client: string;
  user: string | null;
  /** Free-form information from the connection token (`info` claim) or the app. */
  info?: unknown;
}

// ---- commands: client -> server. Every command but `pong` carries an `id` echoed by its reply.

export interface SubscribeOptions {
  since?: StreamPosition;
  /** Subscription token for channels that require one. */
  token?: string;
}

export interface ConnectCommand {
  id: number;
  type: 'connect';
  token?: string;
  subs?: Record<string, SubscribeOptions>;
}
export interface SubscribeCommand extends SubscribeOptions {
  id: number;
  type: 'subscribe';
  channel: string;
}
export interface UnsubscribeCommand {
  id: number;
  type: 'unsubscribe';
  channel: string;
}
export interface PublishCommand {
  id: number;
  type: 'publish';
  channel: string;
  data: unknown;
  event?: string;
  idempotencyKey?: string;
}
export interface HistoryCommand {
  id: number;
  type: 'history';
  channel: string;
  since?: StreamPosition;
  limit?: number;
  reverse?: boolean;
}
export interface PresenceCommand {
  id: number;
  type: 'presence';
  channel: string;
}
export interface RefreshCommand {
  id: number;
  type: 'refresh';
  token: string;
}
export interface PingCommand {
  id: number;
  type: 'ping';
}
/** Answer to the server's heartbeat `{"type":"ping"}`; has no id and gets no reply. */
export interface PongCommand {
  type: 'pong';
}

export type Command =
  | ConnectCommand
  | SubscribeCommand
  | UnsubscribeCommand
  | PublishCommand
  | HistoryCommand
  | PresenceCommand
  | RefreshCommand
  | PingCommand
  | PongCommand;

export type CommandType = Command['type'];

// ---- results, one per command type

export interface SubscribeResult extends StreamPosition {
  channel: string;
  /** Present when `since` was given: true if every missed publication is in `publications`. */
  recovered?: boolean;
  /** Missed publications, in offset order (only when recovering). */
  publications: Publication[];
}
export interface ConnectResult {
  client: string;
  user: string | null;
  /** Seconds between server heartbeats; answer each `ping` push with `pong`. */
  ping: number;
  /** Unix seconds when the connection token expires, if it does. */
  expires?: number;
  subs: Record<string, SubscribeResult | { error: ErrorBody }>;
}
export interface PublishResult extends StreamPosition {
  /** True when the idempotency key was seen before: nothing was delivered again. */
  duplicate?: boolean;
}
export interface HistoryResult extends StreamPosition {
  publications: Publication[];
  /**
   * Present when the reply was cut to fit the connection's send queue: the rest of what was asked for is
   * the same `history` command with these `since` and `limit` (and the same `reverse`).
   */
  next?: { since: StreamPosition; limit: number };
}
export interface PresenceResult {
  members: Record<string, PresenceMember>;
}

// ---- server -> client

export interface Reply {
  id: number;
  result?: unknown;
  error?: ErrorBody;
}

export interface PublicationPush extends Publication {
  type: 'pub';
}
export interface JoinPush {
  type: 'join';
  channel: string;
  member: PresenceMember;
}
export interface LeavePush {
  type: 'leave';
  channel: string;
  member: PresenceMember;
}
/** The server ended one subscription (permission revoked, channel closed). */
export interface UnsubscribePush {
  type: 'unsub';
  channel: string;
  code: string;
  reason: string;
  /** Whether subscribing again may succeed. */
  resubscribe: boolean;
}
/** Sent just before the server closes the connection. */
export interface DisconnectPush {
  type: 'disconnect';
  code: number;
  reason: string;
  reconnect: boolean;
}
/**
 * The connection token has expired: send a `refresh` command with a new token within `within` seconds,
 * or the connection is closed with 4004.
 */
export interface RefreshPush {
  type: 'refresh';
  code: 'token_expired';
  within: number;
}
export interface PingPush {
  type: 'ping';
}
/** An error not tied to a command id, e.g. a frame that is not JSON. */
export interface ErrorPush {
  type: 'error';
  error: ErrorBody;
}

export type Push =
  | PublicationPush
  | JoinPush
  | LeavePush
  | UnsubscribePush
  | DisconnectPush
  | RefreshPush
  | PingPush
  | ErrorPush;
export type ServerFrame = Reply | Push;

// ---- SSE and long-polling

/** First control event of an SSE stream. */
export interface SseConnectedEvent {
  type: 'connected';
  /** The connection's public id (as in presence). */
  client: string;
  /** Secret naming this stream in client actions (`POST /connection/subscribe`, ...). */
  session: string;
  user: string | null;
  /** Seconds between heartbeat comments. */
  heartbeat: number;
  expires?: number;
}
/** A channel was (re)subscribed on the stream; its recovered publications follow as messages. */
export interface SubscribedEvent extends StreamPosition {
  type: 'subscribed';
  channel: string;
  /** Present when resuming: false means history no longer covers the gap and the position restarts here. */
  recovered?: boolean;
}
export interface UnsubscribedEvent {
  type: 'unsubscribed';
  channel: string;
}
/** The `data:` of an SSE `event: herald` control event. */
export type SseControlEvent =
  | SseConnectedEvent
  | SubscribedEvent
  | UnsubscribedEvent
  | Exclude<Push, PublicationPush | PingPush>;

/** Answer of `GET /connection/poll`. */
export interface PollResult {
  /** Publications after the cursor, in offset order per channel. */
  publications: Publication[];
  /** Channels positioned by this poll: fresh ones, and resumed ones with `recovered`. */
  subscribed: SubscribedEvent[];
  /** The position after `publications`: send it with the next poll. */
  cursor: string;
}
