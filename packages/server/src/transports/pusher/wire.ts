import type { Publication } from '@herald/protocol';
import { type Delivery, encodingSlot } from '../../core/delivery.ts';
import { textFrame } from '../socket-sink.ts';

/**
 * Pusher's error codes (`pusher:error` and close codes). pusher-js reads the range: 4000-4099 do not
 * reconnect, 4100-4199 reconnect after a backoff, 4200-4299 reconnect at once.
 */
export const PusherCodes = {
  unknownApp: 4001,
  pathNotFound: 4005,
  badProtocol: 4006,
  unsupportedProtocol: 4007,
  noProtocol: 4008,
  unauthorized: 4009,
  overCapacity: 4100,
  reconnect: 4200,
  pongNotReceived: 4201,
  clientEventRate: 4301,
} as const;

/** The protocol versions served: pusher-js 8 speaks 7; older clients 5 and 6, the same frames for what Herald serves. */
export const PROTOCOLS = new Set(['5', '6', '7']);

/** One Pusher frame, ready for the socket. `data` goes as is (objects for pusher:* events, strings for channel events). */
export function pusherFrame(event: string, channel: string | undefined, data: unknown): Buffer {
  const message = channel === undefined ? { event, data } : { event, channel, data };
  return textFrame(Buffer.from(JSON.stringify(message)));
}

/** Pusher's channel events carry `data` as a string: JSON for anything but a string. */
export function eventData(data: unknown): string {
  return typeof data === 'string' ? data : JSON.stringify(data ?? null);
}

/**
 * How a Pusher trigger's `data` (always a string on the wire) is stored, so Herald clients see the value:
 * the JSON it holds, or the string itself when it is not JSON. pusher-js parses it the same way.
 */
export function storedData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

/** Events of Pusher's own prefixes: never relayed from a publication, so no publisher can speak for the hub. */
export function isReservedEvent(event: string): boolean {
  return event.startsWith('pusher:') || event.startsWith('pusher_internal:');
}

/** The event name a Herald publication without one has, as SSE gives it. */
const DEFAULT_EVENT = 'message';

const EMPTY = Buffer.alloc(0);

/** A publication's Pusher frame, built once and written to every Pusher subscriber; empty: not relayed. */
export const PUSHER_FRAME = encodingSlot<Buffer>();

/** A publication as a Pusher channel event; empty for the events no publication may send. */
export function publicationFrame(pub: Publication): Buffer {
  const { event = DEFAULT_EVENT, channel, data } = pub;
  if (isReservedEvent(event)) return EMPTY;
  return pusherFrame(event, channel, eventData(data));
}

export function encodePusherFrame(delivery: Delivery): Buffer {
  return publicationFrame(delivery.pub);
}

/** Herald's extension (docs/pusher.md): where a resumable subscription stands, for `@herald/pusher`. */
export const POSITION_EVENT = 'pusher_internal:herald_position';
