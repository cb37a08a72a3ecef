import { connect, type Socket } from 'node:net';
import { nowMicros } from '../proc.ts';
import type { Counter, CounterEvents } from './counters.ts';
import type { RawProtocol, ResumePoint } from './raw-protocols.ts';
import { clientFrame, FrameParser, type FrameSink, Opcode } from './ws-frames.ts';

/**
 * One read buffer for every socket of the process: reads are handled synchronously, so nothing is
 * allocated per read however many sockets there are.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const KEY = 'aGVyYWxkLWJlbmNoLWtleQ==';

type State = 'idle' | 'upgrading' | 'handshaking' | 'live' | 'closed';

/**
 * A throughput subscriber: a WebSocket handshake done by hand over a plain TCP socket, then every data
 * frame counted from its header alone. It answers heartbeats and can resume (Herald) after a drop.
 */
export class RawSubscriber implements FrameSink, Counter {
  /** Messages delivered: counted frames plus publications that came inside a resume reply. */
  count = 0;
  /** Monotonic microseconds when the subscription last became live. */
  readyAt = 0;
  notRecovered = 0;
  unexpectedCloses = 0;
  state: State = 'idle';
  private socket: Socket | undefined;
  private response = '';
  private readonly parser = new FrameParser(this);
  private position: ResumePoint | undefined;
  private countAtPosition = 0;
  private since: ResumePoint | undefined;
  events: CounterEvents = { ready() {}, failed() {}, lost() {} };

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly protocol: RawProtocol,
    readonly channel: string,
  ) {}

  /** Connects and subscribes; with `resume`, from the last position seen (Herald). */
  open(resume = false): void {
    this.since =
      resume && this.position
        ? { epoch: this.position.epoch, offset: this.position.offset + this.count - this.countAtPosition }
        : undefined;
    this.state = 'upgrading';
    this.response = '';
    this.parser.reset();
    const socket = connect({
      host: this.host,
      port: this.port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number) => {
          if (this.socket === socket) this.read(n);
          return true;
        },
      },
    });
    this.socket = socket;
    socket.on('connect', () => {
      socket.write(
        `GET ${this.protocol.path(this.channel)} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n` +
          `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      const was = this.state;
      this.state = 'closed';
      if (was === 'live') {
        this.unexpectedCloses++;
        this.events.lost(this);
      } else if (was !== 'closed') {
        this.events.failed(this, `closed while ${was}`);
      }
    });
  }

  /** Cuts the connection abruptly (TCP reset), as a network failure would. */
  drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.state = 'closed';
    socket?.resetAndDestroy();
  }

  close(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.state = 'closed';
    socket?.destroy();
  }

  private read(n: number): void {
    if (this.state !== 'upgrading') {
      this.parser.feed(READ_BUFFER, 0, n);
      return;
    }
    const before = this.response.length;
    this.response += READ_BUFFER.toString('latin1', 0, n);
    const end = this.response.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.response.length > 16_384) this.fail('upgrade response too long');
      return;
    }
    if (!this.response.startsWith('HTTP/1.1 101')) {
      this.fail(`upgrade refused: ${this.response.slice(0, this.response.indexOf('\r\n'))}`);
      return;
    }
    const hello = this.protocol.hello(this.channel, this.since);
    if (hello) this.socket!.write(hello);
    if (this.protocol.readyOnUpgrade) this.becomeLive(0, undefined, false);
    else this.state = 'handshaking';
    const rest = end + 4 - before;
    if (rest < n) this.parser.feed(READ_BUFFER, rest, n);
  }

  onHeader(opcode: number, length: number): boolean {
    if (this.state === 'live' && (opcode === Opcode.text || opcode === Opcode.binary)) {
      if (length !== this.protocol.ping?.length) {
        this.count++;
        return false;
      }
      return true;
    }
    return opcode === Opcode.text || opcode === Opcode.ping || opcode === Opcode.close;
  }

  onPayload(opcode: number, payload: Buffer): void {
    const socket = this.socket;
    if (!socket) return;
    if (opcode === Opcode.ping) {
      socket.write(clientFrame(payload, Opcode.pong));
      return;
    }
    if (opcode === Opcode.close) {
      this.fail(`closed by the server (${payload.length >= 2 ? payload.readUInt16BE(0) : 'no code'})`);
      return;
    }
    const text = payload.toString();
    const ping = this.protocol.ping;
    if (this.state === 'live') {
      if (ping && text === ping.text) socket.write(ping.pong);
      else this.count++;
      return;
    }
    let step: ReturnType<RawProtocol['handshake']>;
    try {
      step = this.protocol.handshake(text, this.channel, this.since);
    } catch (err) {
      this.fail(`unreadable handshake frame: ${(err as Error).message}`);
      return;
    }
    if (step.send) socket.write(step.send);
    if (step.fail) this.fail(step.fail);
    else if (step.ready)
      this.becomeLive(step.ready.recovered, step.ready.position, !!step.ready.notRecovered);
  }

  private becomeLive(recovered: number, position: ResumePoint | undefined, notRecovered: boolean): void {
    this.count += recovered;
    if (position) {
      this.position = position;
      this.countAtPosition = this.count;
    }
    if (notRecovered) this.notRecovered++;
    this.state = 'live';
    this.readyAt = nowMicros();
    this.events.ready(this);
  }

  private fail(reason: string): void {
    const socket = this.socket;
    this.socket = undefined;
    this.state = 'closed';
    socket?.destroy();
    this.events.failed(this, reason);
  }
}
