import { CloseCodes, ErrorCodes } from '@herald/protocol';
import fc from 'fast-check';
import WebSocket from 'ws';
import { type CommandVocabulary, commandArbitraries } from '../../../../test/support/commands.ts';

/** One WebSocket message as the fuzzer sends it. */
export interface WireFrame {
  kind: 'text' | 'binary' | 'bad-utf8';
  payload: Buffer;
  /** Sent as this many frames (a first frame and continuations). */
  fragments: number;
}

/**
 * Close codes a hub may end a fuzzed connection with: Herald's own (docs/protocol.md) and the RFC 6455
 * ones `ws` uses for what never reaches Herald: 1002 protocol error, 1007 text that is not UTF-8, 1009 a
 * message over the size limit.
 */
const DOCUMENTED_CLOSE_CODES = new Set<number>([...Object.values(CloseCodes), 1002, 1007, 1009]);

/** The hub's WebSocket message limit with the default maxPayloadBytes (websocket.ts): larger ones are cut. */
const WS_MAX_PAYLOAD = 1024 * 1024;

function wireFrame(kind: WireFrame['kind'], payload: Buffer, fragments = 1): WireFrame {
  // fast-check prints a counterexample with this, instead of every byte of a megabyte frame.
  return {
    kind,
    payload,
    fragments,
    [fc.toStringMethod]: () => describeFrame({ kind, payload, fragments }),
  } as WireFrame;
}

/** Whether the hub ends the connection on `frame` (in `ws`, before Herald sees it). */
function endsConnection(frame: WireFrame): boolean {
  return frame.kind === 'bad-utf8' || frame.payload.length > WS_MAX_PAYLOAD;
}

/** Whether `payload` is a valid `pong`, the one command that gets no answer. */
function isPong(payload: Buffer): boolean {
  try {
    const value = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    return (
      typeof value === 'object' &&
      value !== null &&
      value.type === 'pong' &&
      Object.keys(value).every((k) => k === 'type' || k === 'id')
    );
  } catch {
    return false;
  }
}

/** Answers the hub owes for `frame`: one, but none for a pong. */
function answersOwed(frame: WireFrame): number {
  return frame.kind === 'text' && isPong(frame.payload) ? 0 : 1;
}

function describeFrame(frame: WireFrame): string {
  const text = frame.kind === 'text' ? frame.payload.toString('utf8') : frame.payload.toString('hex');
  const shown = text.length > 300 ? `${text.slice(0, 300)}... (${frame.payload.length} bytes)` : text;
  return `${frame.kind}${frame.fragments > 1 ? ` in ${frame.fragments} fragments` : ''}: ${shown}`;
}

/** WebSocket messages: commands valid and not, binary, bad UTF-8, fragmented, over the size limits. */
export function wireFrames(vocabulary: CommandVocabulary): fc.Arbitrary<WireFrame> {
  const { frames, valid } = commandArbitraries(vocabulary);
  const text = (payload: string, fragments = 1) => wireFrame('text', Buffer.from(payload), fragments);
  const publishOf = (data: string) => `{"id":7,"type":"publish","channel":"lobby","data":${data}}`;
  return fc.oneof(
    { weight: 12, arbitrary: frames.map((f) => text(f)) },
    { weight: 3, arbitrary: fc.tuple(frames, fc.integer({ min: 2, max: 5 })).map(([f, n]) => text(f, n)) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => wireFrame('binary', Buffer.from(b))),
    },
    {
      weight: 1,
      // A valid command with a byte sequence that is not UTF-8 spliced in.
      arbitrary: fc
        .tuple(
          valid,
          fc.nat(),
          fc.constantFrom([0xff], [0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf]),
        )
        .map(([command, at, bad]): WireFrame => {
          const bytes = Buffer.from(JSON.stringify(command));
          const i = at % (bytes.length + 1);
          return wireFrame(
            'bad-utf8',
            Buffer.concat([bytes.subarray(0, i), Buffer.from(bad), bytes.subarray(i)]),
          );
        }),
    },
    {
      weight: 1,
      // Over maxPayloadBytes (an error reply), and rarely over the WebSocket limit (closed with 1009).
      arbitrary: fc
        .constantFrom(70_000, 70_000, 70_000, 1_100_000)
        .map((n) => text(publishOf(JSON.stringify('x'.repeat(n))))),
    },
    {
      weight: 2,
      // Around maxPayloadDepth (64), and deep enough to overflow the stack of a recursive encoder.
      arbitrary: fc
        .oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1_000, max: 5_000 }))
        .map((depth) => text(publishOf('['.repeat(depth) + ']'.repeat(depth)))),
    },
  );
}

/** One fuzzed connection: what the hub answered on it, and how it ended. */
class FuzzConnection {
  readonly answers: Array<Record<string, unknown>> = [];
  closed: { code: number; reason: string } | undefined;
  /** The socket's error, if any: with a 1006 close, what ended it. */
  error: string | undefined;
  /** A frame from the hub that breaks the protocol, seen by the message listener. */
  violation: string | undefined;
  private wake: (() => void) | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      let frame: Record<string, unknown>;
      try {
        if (isBinary) throw new Error('binary');
        frame = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        this.violation ??= `the hub sent a frame that is not JSON text: ${String(data).slice(0, 200)}`;
        return;
      }
      if (frame.type === 'ping' && !('id' in frame)) ws.send('{"type":"pong"}');
      else if ('id' in frame || frame.type === 'error') this.answers.push(frame);
      this.wake?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake?.();
    });
    ws.on('error', (err) => {
      this.error = err.message;
    });
  }

  static async open(url: string): Promise<FuzzConnection> {
    const connection = new FuzzConnection(new WebSocket(url, { perMessageDeflate: false }));
    await new Promise<void>((resolve, reject) => {
      connection.ws.once('open', resolve);
      connection.ws.once('error', (err) =>
        reject(new Error(`the hub refused the WebSocket: ${err.message}`)),
      );
    });
    return connection;
  }

  send(frame: WireFrame): void {
    const binary = frame.kind === 'binary';
    const size = Math.ceil(frame.payload.length / frame.fragments);
    for (let i = 0; i < frame.fragments; i++) {
      const last = i === frame.fragments - 1;
      this.ws.send(frame.payload.subarray(i * size, last ? undefined : (i + 1) * size), {
        binary,
        fin: last,
      });
    }
  }

  /** Resolves on the next frame or close, or after a short while. */
  changed(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      setTimeout(resolve, 50);
    });
  }
}

/** Sends fuzzed frames in bursts over one connection (a new one after each close) and checks the answers. */
export class WebSocketFuzzer {
  frames = 0;
  private connection: FuzzConnection | undefined;

  constructor(private readonly url: string) {}

  /**
   * Sends `burst` on the current connection (a fresh one if `fresh`) and waits until every frame owed an
   * answer has one, or the hub closed the connection with a documented code. Throws what went wrong.
   */
  async run(burst: WireFrame[], fresh: boolean, timeoutMs = 10_000): Promise<void> {
    if (fresh || !this.connection || this.connection.closed) {
      this.connection?.ws.terminate();
      this.connection = await FuzzConnection.open(this.url);
    }
    const connection = this.connection;
    const before = connection.answers.length;
    const owed = burst.reduce((n, f) => n + answersOwed(f), 0);
    for (const frame of burst) connection.send(frame);
    this.frames += burst.length;
    const deadline = Date.now() + timeoutMs;
    const sent = () => burst.map(describeFrame).join('\n');
    while (connection.answers.length - before < owed && !connection.closed) {
      if (Date.now() > deadline)
        throw new Error(
          `no answer within ${timeoutMs} ms: ${connection.answers.length - before} of ${owed} for\n${sent()}`,
        );
      await connection.changed();
    }
    if (connection.violation) throw new Error(`${connection.violation}\nafter\n${sent()}`);
    for (const answer of connection.answers.slice(before)) {
      const error = answer.error as { code?: unknown; message?: unknown } | undefined;
      if (error === undefined && 'result' in answer) continue;
      if (
        error === undefined ||
        typeof error.code !== 'string' ||
        !Object.hasOwn(ErrorCodes, error.code) ||
        error.code === 'internal' ||
        typeof error.message !== 'string'
      ) {
        throw new Error(`answered ${JSON.stringify(answer)} for\n${sent()}`);
      }
    }
    const closed = connection.closed;
    // A client that keeps writing into a connection the hub is closing may see the TCP reset, not the close frame.
    const reset = closed?.code === 1006 && burst.some(endsConnection);
    if (closed && !reset && !DOCUMENTED_CLOSE_CODES.has(closed.code))
      throw new Error(
        `closed with undocumented code ${closed.code} (${closed.reason || connection.error}) after\n${sent()}\nlast answers: ${JSON.stringify(connection.answers.slice(-3))}`,
      );
  }

  close(): void {
    this.connection?.ws.terminate();
  }
}
