import { RawCounter } from './raw-counter.ts';
import type { RawProtocol } from './raw-protocols.ts';
import { clientFrame, FrameParser, type FrameSink, Opcode } from './ws-frames.ts';

const KEY = 'aGVyYWxkLWJlbmNoLWtleQ==';

/**
 * A WebSocket subscriber with the handshake done by hand: once live, every data frame counts as one
 * message from its header alone (the payload is skipped by length). It answers heartbeats.
 */
export class WsCounter extends RawCounter implements FrameSink {
  private readonly parser = new FrameParser(this);

  constructor(
    host: string,
    port: number,
    private readonly protocol: RawProtocol,
    channel: string,
  ) {
    super(host, port, channel);
  }

  protected request(): string {
    return (
      `GET ${this.protocol.path(this.channel)} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n` +
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`
    );
  }

  protected accepted(status: string): boolean {
    if (!status.startsWith('HTTP/1.1 101')) return false;
    const hello = this.protocol.hello(this.channel, this.since);
    if (hello) this.socket!.write(hello);
    if (this.protocol.readyOnUpgrade) this.becomeLive(0, undefined, false);
    return true;
  }

  protected body(buf: Buffer, start: number, end: number): void {
    this.parser.feed(buf, start, end);
  }

  protected resetParser(): void {
    this.parser.reset();
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
}
