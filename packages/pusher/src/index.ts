/**
 * Resume for pusher-js on a Herald hub. Pusher's protocol has no history: a client that reconnects
 * silently misses what was published meanwhile. `resumable(pusher)` opts a pusher-js client into Herald's
 * extension: the hub tells it where each channel's stream stands, and when pusher-js subscribes again
 * after a reconnect it asks from there, so the missed events arrive first, in order, once. Without it,
 * the hub behaves exactly as Pusher does. See docs/pusher.md.
 */

/** A channel's place in its Herald stream. */
export interface Position {
  epoch: string;
  offset: number;
}

/** The parts of a pusher-js client (7.1 and later) the helper uses, all public API. */
export interface PusherLike {
  send_event(name: string, data: unknown, channel?: string): boolean;
  connection: {
    bind(
      event: 'message',
      callback: (message: { event: string; channel?: string; data?: unknown }) => void,
    ): unknown;
  };
}

export interface ResumableOptions {
  /**
   * Called when a channel could not be resumed (history no longer reaches back, or the stream was
   * reset): events were missed, and the app should reload that channel's state.
   */
  onMissed?(channel: string): void;
}

export interface Resumable {
  /** Where `channel` stands, once the hub has said. */
  position(channel: string): Position | undefined;
}

/** The hub's message with a subscription's position (Herald's extension of the protocol). */
const POSITION_EVENT = 'pusher_internal:herald_position';

/** Opts `pusher` into resume; call it once, right after `new Pusher(…)`, before subscribing. */
export function resumable(pusher: PusherLike, options: ResumableOptions = {}): Resumable {
  const positions = new Map<string, Position>();
  const send = pusher.send_event.bind(pusher);
  // pusher-js subscribes, again after every reconnect, through send_event: the subscription asks to
  // resume from the channel's position (or just opts in, for a first subscription).
  pusher.send_event = (name, data, channel) => {
    if (name === 'pusher:subscribe' && isObject(data) && typeof data.channel === 'string') {
      const since = positions.get(data.channel);
      return send(name, { ...data, herald: since ? { since } : {} }, channel);
    }
    if (name === 'pusher:unsubscribe' && isObject(data) && typeof data.channel === 'string') {
      positions.delete(data.channel);
    }
    return send(name, data, channel);
  };
  pusher.connection.bind('message', (message) => {
    if (message.event !== POSITION_EVENT || typeof message.channel !== 'string') return;
    const data = message.data;
    if (!isObject(data) || typeof data.epoch !== 'string' || typeof data.offset !== 'number') return;
    positions.set(message.channel, { epoch: data.epoch, offset: data.offset });
    if (data.recovered === false) options.onMissed?.(message.channel);
  });
  return { position: (channel) => positions.get(channel) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
