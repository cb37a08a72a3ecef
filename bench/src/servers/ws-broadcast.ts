/**
 * The naive floor: a hand-written `ws` server that keeps a Set of sockets per channel and sends every
 * message to each with `c.send(msg)`. Subscribers connect with `?channel=NAME`; the publisher connects
 * without one and sends `CHANNEL\nPAYLOAD` text frames.
 */
import { createServer } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { announce, portArgument } from './control.ts';

const rooms = new Map<string, Set<WebSocket>>();
const http = createServer();
const wss = new WebSocketServer({ server: http });

wss.on('connection', (ws, request) => {
  const channel = new URL(request.url ?? '/', 'http://x').searchParams.get('channel');
  if (channel === null) {
    ws.on('message', (data) => {
      const text = data.toString();
      const newline = text.indexOf('\n');
      const room = rooms.get(text.slice(0, newline));
      if (!room) return;
      const msg = text.slice(newline + 1);
      for (const c of room) c.send(msg);
    });
    return;
  }
  let room = rooms.get(channel);
  if (!room) {
    room = new Set();
    rooms.set(channel, room);
  }
  room.add(ws);
  ws.on('close', () => room.delete(ws));
});

http.listen(portArgument(), '127.0.0.1', () => announce((http.address() as { port: number }).port));
