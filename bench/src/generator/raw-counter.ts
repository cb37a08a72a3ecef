import { connect, type Socket } from 'node:net';
import { nowMicros } from '../proc.ts';
import type { Counter, CounterEvents } from './counters.ts';
import type { ResumePoint } from './raw-protocols.ts';

/**
 * One read buffer for every socket of the process: reads are handled synchronously, so nothing is
 * allocated per read however many sockets there are.
 */
export const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
/** An attempt that is not live by then is abandoned and retried (a dropped SYN waits for minutes). */
const ATTEMPT_TIMEOUT_MS = 10_000;

type State = Counter['state'];

/**
 * A throughput subscriber over a plain TCP socket: it writes an HTTP request by hand, reads the response
 * head, then hands every body byte to the subclass, which counts messages without decoding them. It
 * keeps the stream position (from the subscribe answer plus the count) so it can resume after a drop.
 */
export abstract class RawCounter implements Counter {
  count = 0;
  readyAt = 0;
  notRecovered = 0;
  unexpectedCloses = 0;
  state: State = 'idle';
  events: CounterEvents = { ready() {}, failed() {}, lost() {} };
  protected socket: Socket | undefined;
  /** Where to resume from on this connection, when resuming. */
  protected since: ResumePoint | undefined;
  private head = '';
  private position: ResumePoint | undefined;
  private countAtPosition = 0;

  constructor(
    protected readonly host: string,
    protected readonly port: number,
    readonly channel: string,
  ) {}

  /** The request line and headers, ending with the blank line. */
  protected abstract request(): string;
  /** The response head arrived (`status` is its first line); return false to refuse it. */
  protected abstract accepted(status: string): boolean;
  /** Response body bytes `buf[start, end)`; the buffer is reused after the call. */
  protected abstract body(buf: Buffer, start: number, end: number): void;
  protected abstract resetParser(): void;

  open(resume = false): void {
    this.since =
      resume && this.position
        ? { epoch: this.position.epoch, offset: this.position.offset + this.count - this.countAtPosition }
        : undefined;
    this.state = 'upgrading';
    this.head = '';
    this.resetParser();
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
    const timer = setTimeout(() => {
      if (this.socket === socket && this.state !== 'live')
        this.fail(`not live within ${ATTEMPT_TIMEOUT_MS} ms`);
    }, ATTEMPT_TIMEOUT_MS);
    socket.on('connect', () => socket.write(this.request()));
    let error = '';
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = ` (${err.code ?? err.message})`;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.socket !== socket) return;
      this.socket = undefined;
      const was = this.state;
      this.state = 'closed';
      if (was === 'live') {
        this.unexpectedCloses++;
        this.events.lost(this);
      } else if (was !== 'closed') {
        this.events.failed(this, `closed while ${was}${error}`);
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
      this.body(READ_BUFFER, 0, n);
      return;
    }
    const before = this.head.length;
    this.head += READ_BUFFER.toString('latin1', 0, n);
    const end = this.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.head.length > 16_384) this.fail('response head too long');
      return;
    }
    const status = this.head.slice(0, this.head.indexOf('\r\n'));
    if (!this.accepted(status)) {
      this.fail(`refused: ${status}`);
      return;
    }
    if (this.state === 'upgrading') this.state = 'handshaking';
    const rest = end + 4 - before;
    if (rest < n) this.body(READ_BUFFER, rest, n);
  }

  /**
   * The subscription is live. `recovered` publications came inside the answer; `position` is where the
   * stream stood when the counting from now on starts (the `since` asked for, when publications follow).
   */
  protected becomeLive(recovered: number, position: ResumePoint | undefined, notRecovered: boolean): void {
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

  protected fail(reason: string): void {
    const socket = this.socket;
    this.socket = undefined;
    this.state = 'closed';
    socket?.destroy();
    this.events.failed(this, reason);
  }
}
