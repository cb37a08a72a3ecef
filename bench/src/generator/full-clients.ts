import { createClient } from '@herald/client';
import { EventSource } from 'eventsource';
import PusherJs from 'pusher-js';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import type { TargetName } from '../targets.ts';
import type { Stamp } from './payload.ts';
import { PUSHER_KEY } from './raw-protocols.ts';

// pusher-js's type declarations miss the default export its Node build has.
const Pusher = PusherJs as unknown as typeof import('pusher-js/types/src/core/pusher.js').default;

/**
 * A latency sample: the system's own client library (or plain `ws` for the ws server), decoding every
 * payload as an app would. Resolves once subscribed; `onMessage` gets each decoded payload.
 */
export interface FullClient {
  close(): void;
}

export async function openFullClient(
  target: TargetName,
  base: string,
  channel: string,
  onMessage: (stamp: Stamp) => void,
  timeoutMs = 30_000,
): Promise<FullClient> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${target} sample client not subscribed in time`)), timeoutMs);
  });
  try {
    return await Promise.race([open(target, base, channel, onMessage), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function open(
  target: TargetName,
  base: string,
  channel: string,
  onMessage: (stamp: Stamp) => void,
): Promise<FullClient> {
  switch (target) {
    case 'herald-sse':
      // A plain EventSource, as a browser page without the SDK would use the hub.
      return new Promise((resolve, reject) => {
        const es = new EventSource(`${base}/connection/sse?channel=${encodeURIComponent(channel)}`);
        es.addEventListener('message', (e) => onMessage((JSON.parse(e.data) as { data: Stamp }).data));
        es.addEventListener('herald', (e) => {
          if ((JSON.parse(e.data) as { type: string }).type === 'subscribed')
            resolve({ close: () => es.close() });
        });
        es.addEventListener('error', () => {
          if (es.readyState === EventSource.CLOSED) reject(new Error('EventSource closed'));
        });
      });
    case 'herald-ws':
    case 'herald-redis':
    case 'herald-redis-baseline':
      return new Promise((resolve, reject) => {
        const client = createClient({ url: base, WebSocket: WebSocket as never, transports: ['websocket'] });
        client.subscribe(channel, {
          onPublication: (pub) => onMessage(pub.data as Stamp),
          onSubscribed: () => resolve({ close: () => client.close() }),
          onError: (err) => reject(err),
        });
      });
    case 'ws':
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${base.replace('http', 'ws')}/?channel=${encodeURIComponent(channel)}`, {
          perMessageDeflate: false,
        });
        ws.on('message', (data) => onMessage(JSON.parse(data.toString())));
        ws.once('open', () => resolve({ close: () => ws.terminate() }));
        ws.once('error', reject);
      });
    case 'pushpin':
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(
          `${base.replace('http', 'ws')}/bench?channel=${encodeURIComponent(channel)}`,
          {
            perMessageDeflate: false,
          },
        );
        ws.on('message', (data) => {
          const text = data.toString();
          // The origin's `ready` comes once the subscription is in place.
          if (text === 'ready') resolve({ close: () => ws.terminate() });
          else onMessage(JSON.parse(text));
        });
        ws.once('error', reject);
      });
    case 'herald-pusher':
      // pusher-js itself (its Node build), as an app migrated from Pusher runs it.
      return new Promise((resolve, reject) => {
        const url = new URL(base);
        const pusher = new Pusher(PUSHER_KEY, {
          cluster: 'herald',
          wsHost: url.hostname,
          wsPort: Number(url.port),
          forceTLS: false,
          enabledTransports: ['ws'],
          disableStats: true,
        });
        const subscription = pusher.subscribe(channel);
        subscription.bind('message', (data: Stamp) => onMessage(data));
        subscription.bind('pusher:subscription_succeeded', () =>
          resolve({ close: () => pusher.disconnect() }),
        );
        subscription.bind('pusher:subscription_error', (err: unknown) =>
          reject(new Error(JSON.stringify(err))),
        );
      });
    case 'socketio':
      return new Promise((resolve, reject) => {
        const socket = io(base, { transports: ['websocket'], query: { channel } });
        socket.on('m', (data: Stamp) => onMessage(data));
        socket.once('connect', () => resolve({ close: () => socket.disconnect() }));
        socket.once('connect_error', reject);
      });
  }
}
