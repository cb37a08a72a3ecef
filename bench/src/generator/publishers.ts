import { Agent, request } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import type { TargetName } from '../targets.ts';
import { payloadText } from './payload.ts';

/** Sends messages into a system the way its apps would; one connection, no waiting per message. */
export interface Publisher {
  open(): Promise<void>;
  publish(channel: string, seq: number): void;
  /** Publishes the server refused (Herald answers each one). */
  readonly errors: number;
  close(): void;
}

function openWebSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Herald: `publish` commands over the WebSocket protocol; every reply is checked for an error. */
class HeraldPublisher implements Publisher {
  errors = 0;
  private ws!: WebSocket;
  private id = 1;

  constructor(private readonly base: string) {}

  async open(): Promise<void> {
    this.ws = await openWebSocket(`${this.base.replace('http', 'ws')}/connection/websocket`);
    const connected = new Promise<void>((resolve) => this.ws.once('message', () => resolve()));
    this.ws.send(JSON.stringify({ id: this.id++, type: 'connect' }));
    await connected;
    this.ws.on('message', (data) => {
      if (data.toString().includes('"error"')) this.errors++;
    });
  }

  publish(channel: string, seq: number): void {
    this.ws.send(`{"id":${this.id++},"type":"publish","channel":"${channel}","data":${payloadText(seq)}}`);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** The ws broadcast server: `CHANNEL\nPAYLOAD` text frames. */
class WsPublisher implements Publisher {
  readonly errors = 0;
  private ws!: WebSocket;

  constructor(private readonly base: string) {}

  async open(): Promise<void> {
    this.ws = await openWebSocket(this.base.replace('http', 'ws'));
  }

  publish(channel: string, seq: number): void {
    this.ws.send(`${channel}\n${payloadText(seq)}`);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Socket.IO: `emit('publish', channel, data)` from a socket.io-client on the WebSocket transport. */
class SocketIoPublisher implements Publisher {
  readonly errors = 0;
  private socket!: Socket;

  constructor(private readonly base: string) {}

  open(): Promise<void> {
    this.socket = io(this.base, { transports: ['websocket'] });
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
  }

  publish(channel: string, seq: number): void {
    this.socket.emit('publish', channel, JSON.parse(payloadText(seq)));
  }

  close(): void {
    this.socket.disconnect();
  }
}

/**
 * Pushpin: one POST per message to its HTTP publish endpoint (`ws-message` format), over a few
 * keep-alive connections, without waiting for each answer.
 */
class PushpinPublisher implements Publisher {
  errors = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(private readonly base: string) {}

  async open(): Promise<void> {}

  publish(channel: string, seq: number): void {
    const body = JSON.stringify({
      items: [{ channel, formats: { 'ws-message': { content: payloadText(seq) } } }],
    });
    const req = request(`${this.base}/publish/`, {
      method: 'POST',
      agent: this.agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) this.errors++;
      res.resume();
    });
    req.on('error', () => this.errors++);
    req.end(body);
  }

  close(): void {
    this.agent.destroy();
  }
}

export function createPublisher(target: TargetName, base: string): Publisher {
  switch (target) {
    case 'herald-ws':
    case 'herald-redis':
    case 'herald-sse':
    case 'herald-pusher':
      return new HeraldPublisher(base);
    case 'ws':
      return new WsPublisher(base);
    case 'socketio':
      return new SocketIoPublisher(base);
    case 'pushpin':
      return new PushpinPublisher(base);
  }
}
