import { clientFrame } from './ws-frames.ts';

/** A Herald stream position, kept by counting subscribers so they can resume after a drop. */
export interface ResumePoint {
  epoch: string;
  offset: number;
}

export interface Handshake {
  /** A frame to send back (Socket.IO's namespace connect). */
  send?: Buffer;
  /** The subscription is live: frames from now on are counted. */
  ready?: {
    /** Publications the reply itself carried (Herald's resume). */
    recovered: number;
    position?: ResumePoint;
    /** Resume was asked for and refused (Herald's `recovered: false`). */
    notRecovered?: boolean;
  };
  /** The server refused; the text says why. */
  fail?: string;
}

/**
 * How a counting subscriber speaks one system's WebSocket protocol: what it sends to subscribe, how it
 * knows the subscription is live, and its application-level heartbeat. Once live, every data frame
 * except a heartbeat counts as one delivered message; payloads are never decoded.
 */
export interface RawProtocol {
  path(channel: string): string;
  /** Sent right after the upgrade. */
  hello(channel: string, since: ResumePoint | undefined): Buffer | undefined;
  /** No handshake frames: live as soon as the upgrade completes. */
  readyOnUpgrade: boolean;
  handshake(text: string, channel: string, since: ResumePoint | undefined): Handshake;
  /** The server's heartbeat frame, recognised by its length first (so only it is ever read), and the answer. */
  ping?: { length: number; text: string; pong: Buffer };
}

const herald: RawProtocol = {
  path: () => '/connection/websocket',
  hello: (channel, since) =>
    clientFrame(JSON.stringify({ id: 1, type: 'connect', subs: { [channel]: since ? { since } : {} } })),
  readyOnUpgrade: false,
  handshake(text, channel, since) {
    const frame = JSON.parse(text) as {
      id?: number;
      error?: { message: string };
      result?: {
        subs: Record<
          string,
          {
            epoch: string;
            offset: number;
            publications: unknown[];
            recovered?: boolean;
            error?: { message: string };
          }
        >;
      };
    };
    if (frame.id !== 1) return {};
    if (frame.error) return { fail: frame.error.message };
    const sub = frame.result!.subs[channel];
    if (sub.error) return { fail: sub.error.message };
    return {
      ready: {
        recovered: sub.publications.length,
        position: { epoch: sub.epoch, offset: sub.offset },
        notRecovered: since !== undefined && sub.recovered !== true,
      },
    };
  },
  ping: { length: 15, text: '{"type":"ping"}', pong: clientFrame('{"type":"pong"}') },
};

const socketio: RawProtocol = {
  path: (channel) => `/socket.io/?EIO=4&transport=websocket&channel=${encodeURIComponent(channel)}`,
  hello: () => undefined,
  readyOnUpgrade: false,
  handshake(text) {
    // Engine.IO open packet, then Socket.IO's connect to the default namespace and its acknowledgement.
    if (text.startsWith('0')) return { send: clientFrame('40') };
    if (text.startsWith('40')) return { ready: { recovered: 0 } };
    if (text.startsWith('44')) return { fail: text };
    return {};
  },
  ping: { length: 1, text: '2', pong: clientFrame('3') },
};

const wsBroadcast: RawProtocol = {
  path: (channel) => `/?channel=${encodeURIComponent(channel)}`,
  hello: () => undefined,
  readyOnUpgrade: true,
  handshake: () => ({}),
};

/** Pushpin: the GRIP origin subscribes the connection and then says `ready`; Pushpin sends no heartbeat. */
const pushpin: RawProtocol = {
  path: (channel) => `/bench?channel=${encodeURIComponent(channel)}`,
  hello: () => undefined,
  readyOnUpgrade: false,
  handshake: (text) => (text === 'ready' ? { ready: { recovered: 0 } } : {}),
};

/** The app key of the herald-pusher server (bench/src/servers/herald-pusher.ts). */
export const PUSHER_KEY = 'bench-key';

/** Pusher protocol 7: subscribe once the connection is established, live on subscription_succeeded. */
const pusher: RawProtocol = {
  path: () => `/app/${PUSHER_KEY}?protocol=7&client=bench&version=1`,
  hello: () => undefined,
  readyOnUpgrade: false,
  handshake(text, channel) {
    const frame = JSON.parse(text) as { event: string; data?: unknown };
    if (frame.event === 'pusher:connection_established')
      return { send: clientFrame(JSON.stringify({ event: 'pusher:subscribe', data: { channel } })) };
    if (frame.event === 'pusher_internal:subscription_succeeded') return { ready: { recovered: 0 } };
    if (frame.event === 'pusher:subscription_error' || frame.event === 'pusher:error')
      return { fail: JSON.stringify(frame.data) };
    return {};
  },
  ping: {
    length: 33,
    text: '{"event":"pusher:ping","data":{}}',
    pong: clientFrame('{"event":"pusher:pong","data":{}}'),
  },
};

export const rawProtocols = { herald, socketio, ws: wsBroadcast, pushpin, pusher } as const;
export type RawProtocolName = keyof typeof rawProtocols;
