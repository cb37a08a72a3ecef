import { Agent, request } from 'node:http';
import { connect, type Socket as NetSocket } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { BENCH_API_KEY } from '../servers/control.ts';
import type { TargetName } from '../targets.ts';
import { payloadText } from './payload.ts';

/** Sends messages into a system the way its apps would; one connection, no waiting per message. */
export interface Publisher {
  open(): Promise<void>;
  publish(channel: string, seq: number): void;
  /** Publishes the server refused (Herald answers each one). */
  readonly errors: number;
  /** How many more it takes now, when it bounds what is in flight itself (the HTTP API publisher). */
  room?(): number;
  close(): void;
}

function openWebSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/**
 * Unanswered `publish` commands a Herald publisher keeps at most. Its window is measured at the sampled
 * channels only, so with many channels it would otherwise run megabytes ahead of the hub, queued in its
 * own socket, until the hub cuts it as a slow reader of its replies.
 */
const HERALD_IN_FLIGHT = 16_384;

/** Herald: `publish` commands over the WebSocket protocol; every reply is checked for an error. */
class HeraldPublisher implements Publisher {
  errors = 0;
  private ws!: WebSocket;
  private id = 1;
  private unanswered = 0;
  private closing = false;

  constructor(private readonly base: string) {}

  async open(): Promise<void> {
    this.ws = await openWebSocket(`${this.base.replace('http', 'ws')}/connection/websocket`);
    const connected = new Promise<void>((resolve) => this.ws.once('message', () => resolve()));
    this.ws.send(JSON.stringify({ id: this.id++, type: 'connect' }));
    await connected;
    this.ws.on('message', (data) => {
      this.unanswered = Math.max(0, this.unanswered - 1);
      if (data.toString().includes('"error"')) this.errors++;
    });
    // A publisher cut by the hub loses what it had sent: those publications count as failed, not sent.
    this.ws.on('close', () => {
      if (!this.closing) this.errors += this.unanswered;
      this.unanswered = 0;
    });
  }

  room(): number {
    return this.ws.readyState === WebSocket.OPEN ? HERALD_IN_FLIGHT - this.unanswered : 0;
  }

  publish(channel: string, seq: number): void {
    this.unanswered++;
    this.ws.send(`{"id":${this.id++},"type":"publish","channel":"${channel}","data":${payloadText(seq)}}`);
  }

  close(): void {
    this.closing = true;
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

/** Connections and requests in flight on each of the HTTP API publisher. */
const API_CONNECTIONS = 64;
const API_DEPTH = 4;

/**
 * Herald's server API, as an app's backend calls it: `POST /api/publish` with the API key, one
 * publication per request, over a few keep-alive connections with requests pipelined (at most
 * API_DEPTH in flight on each). Requests are written by hand and answers only counted by their status
 * line, so the generator's core spends little per request and the hub's HTTP path is what is measured.
 */
class ApiPublisher implements Publisher {
  errors = 0;
  private readonly sockets: Array<{ socket: NetSocket; inFlight: number; tail: string }> = [];
  private next = 0;
  private readonly host: string;
  private readonly port: number;

  constructor(base: string) {
    const url = new URL(base);
    this.host = url.hostname;
    this.port = Number(url.port);
  }

  async open(): Promise<void> {
    for (let i = 0; i < API_CONNECTIONS; i++) {
      const socket = connect(this.port, this.host);
      socket.setNoDelay(true);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      });
      const conn = { socket, inFlight: 0, tail: '' };
      socket.setEncoding('latin1');
      socket.on('data', (text: string) => {
        // Each answer starts with its status line; a marker may straddle two reads, hence the tail.
        const all = conn.tail + text;
        let at = all.indexOf('HTTP/1.1 ');
        while (at >= 0 && at + 12 <= all.length) {
          conn.inFlight--;
          if (all.slice(at + 9, at + 12) !== '200') this.errors++;
          at = all.indexOf('HTTP/1.1 ', at + 12);
        }
        conn.tail = at >= 0 ? all.slice(at) : all.slice(-11);
      });
      socket.on('error', () => this.errors++);
      this.sockets.push(conn);
    }
  }

  room(): number {
    let room = 0;
    for (const c of this.sockets) room += API_DEPTH - c.inFlight;
    return room;
  }

  publish(channel: string, seq: number): void {
    // The least busy connection from a rotating start, so the load spreads over all of them.
    let best = this.sockets[this.next++ % this.sockets.length];
    for (const c of this.sockets) if (c.inFlight < best.inFlight) best = c;
    const body = `{"channel":"${channel}","data":${payloadText(seq)}}`;
    best.inFlight++;
    best.socket.write(
      `POST /api/publish HTTP/1.1\r\nHost: ${this.host}\r\nAuthorization: apikey ${BENCH_API_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  close(): void {
    for (const c of this.sockets) c.socket.destroy();
  }
}

/** How the publisher reaches the system: its own protocol, or (Herald) the server API over HTTP. */
export type PublishVia = 'protocol' | 'api';

/** Several publishers taking turns, one per node of a multi-node rig. */
class TakingTurns implements Publisher {
  private turn = 0;

  constructor(private readonly publishers: Publisher[]) {}

  get errors(): number {
    return this.publishers.reduce((n, p) => n + p.errors, 0);
  }

  async open(): Promise<void> {
    await Promise.all(this.publishers.map((p) => p.open()));
  }

  publish(channel: string, seq: number): void {
    this.publishers[this.turn++ % this.publishers.length].publish(channel, seq);
  }

  close(): void {
    for (const p of this.publishers) p.close();
  }
}

/** A publisher into every base (one per node), taking turns. */
export function createPublisher(
  target: TargetName,
  bases: string[],
  via: PublishVia = 'protocol',
): Publisher {
  const all = bases.map((base) => createOne(target, base, via));
  return all.length === 1 ? all[0] : new TakingTurns(all);
}

function createOne(target: TargetName, base: string, via: PublishVia): Publisher {
  if (via === 'api') {
    if (!target.startsWith('herald-')) throw new Error(`${target} has no HTTP publish API here`);
    return new ApiPublisher(base);
  }
  switch (target) {
    case 'herald-ws':
    case 'herald-redis':
    case 'herald-redis-baseline':
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
