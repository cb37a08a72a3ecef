import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Where a stream's bytes go: the socket of the hub's own server, a Node response, or a web stream
 * (route handlers).
 */
export interface StreamOutput {
  /**
   * Writes `chunks` (`bytes` long in all) in order, at once. `prebuilt`: the same bytes already joined
   * (shared by every stream given the same turn), so each output writes one buffer.
   */
  write(chunks: readonly Buffer[], bytes: number, prebuilt?: PrebuiltTurn): void;
  /** Bytes written but not yet taken by the network. */
  buffered(): number;
  /** Resolves once the output has taken what was written (or has ended). */
  drained(): Promise<void>;
  end(): void;
  /** Ends at once, dropping what is buffered (a slow consumer's backlog). */
  abort(): void;
}

/** A turn's messages joined once: as one HTTP/1.1 chunk, and the bare bytes (a view into it). */
export interface PrebuiltTurn {
  readonly chunk: Buffer;
  readonly body: Buffer;
}

const CRLF = Buffer.from('\r\n');

/**
 * `parts` (`bytes` long in all) joined as one HTTP/1.1 chunk (RFC 9112 7.1): size in hex, CRLF, the
 * bytes, CRLF; `body` is the bytes alone, for an output that does not frame them.
 */
export function prebuildTurn(parts: readonly Buffer[], bytes: number): PrebuiltTurn {
  const size = bytes.toString(16);
  const chunk = Buffer.allocUnsafe(size.length + bytes + 4);
  let at = chunk.write(size, 0, 'latin1');
  at += CRLF.copy(chunk, at);
  const start = at;
  for (const part of parts) at += part.copy(chunk, at);
  CRLF.copy(chunk, at);
  return { chunk, body: chunk.subarray(start, at) };
}

function joined(chunks: readonly Buffer[], bytes: number, prebuilt: PrebuiltTurn | undefined): Buffer {
  if (prebuilt) return prebuilt.body;
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes);
}

/** A Node response written through `ServerResponse`: for a response that does not own its socket yet. */
export class NodeOutput implements StreamOutput {
  private draining: Promise<void> | null = null;

  constructor(protected readonly res: ServerResponse) {}

  write(chunks: readonly Buffer[], bytes: number, prebuilt?: PrebuiltTurn): void {
    if (!this.res.destroyed) this.res.write(joined(chunks, bytes, prebuilt));
  }

  buffered(): number {
    return this.res.writableLength;
  }

  /** What the bytes are written to, and so what drains. */
  protected get stream(): ServerResponse | Socket {
    return this.res;
  }

  drained(): Promise<void> {
    const stream = this.stream;
    if (stream.destroyed || !stream.writableNeedDrain) return Promise.resolve();
    // A stream that closes instead never drains: whatever waits is collected with it.
    this.draining ??= new Promise((resolve) =>
      stream.once('drain', () => {
        this.draining = null;
        resolve();
      }),
    );
    return this.draining;
  }

  end(): void {
    this.res.end();
  }

  abort(): void {
    this.res.destroy();
  }
}

/**
 * The hub's own server, once the response head is on the socket: a turn's messages go to the socket
 * as WebSocket frames do, with no `ServerResponse` in between: a turn prebuilt for every stream that
 * has it as one write, any other as its shared buffers in one corked write. On HTTP/1.1 a turn is
 * framed as one chunk, as Node frames a `res.write` (size line, the messages, CRLF: a client sees the
 * same chunks as before); on HTTP/1.0 the body is unframed and ends with the connection. `ServerResponse` still starts and ends the response, so `end()` writes the
 * last chunk and a keep-alive connection goes on to its next request.
 */
export class SocketOutput extends NodeOutput {
  private readonly chunked: boolean;

  private constructor(
    res: ServerResponse,
    private readonly socket: Socket,
  ) {
    super(res);
    this.chunked = res.chunkedEncoding;
  }

  /**
   * Sends the head of `res` (status and headers set) and returns the output writing after it; null
   * when the response does not own its socket yet (a request pipelined behind another still answering).
   */
  static start(res: ServerResponse): SocketOutput | null {
    const socket = res.socket;
    if (!socket || socket.destroyed) return null;
    // The head and the stream's opening (written next, in this turn) leave in one packet.
    socket.cork();
    process.nextTick(() => socket.uncork());
    res.flushHeaders();
    // The head went to the socket as it was flushed; anything Node still holds means it did not.
    if (res.writableLength > socket.writableLength) return null;
    return new SocketOutput(res, socket);
  }

  override write(chunks: readonly Buffer[], bytes: number, prebuilt?: PrebuiltTurn): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (prebuilt) {
      socket.write(this.chunked ? prebuilt.chunk : prebuilt.body);
      return;
    }
    if (!this.chunked && chunks.length === 1) {
      socket.write(chunks[0]);
      return;
    }
    socket.cork();
    // All buffers: Node's writev then passes them to the kernel as they are.
    if (this.chunked) socket.write(Buffer.from(`${bytes.toString(16)}\r\n`, 'latin1'));
    for (const chunk of chunks) socket.write(chunk);
    if (this.chunked) socket.write(CRLF);
    socket.uncork();
  }

  override buffered(): number {
    return this.socket.writableLength;
  }

  protected override get stream(): Socket {
    return this.socket;
  }
}

/**
 * A `ReadableStream` controller whose queue is measured in bytes (high-water mark 0): the stream pulls
 * (`pulled`) when its reader asks for more with nothing queued.
 */
export class WebOutput implements StreamOutput {
  private draining: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  constructor(private readonly controller: ReadableStreamDefaultController<Uint8Array>) {}
  write(chunks: readonly Buffer[], bytes: number, prebuilt?: PrebuiltTurn): void {
    this.controller.enqueue(joined(chunks, bytes, prebuilt));
  }
  buffered(): number {
    return Math.max(0, -(this.controller.desiredSize ?? 0));
  }
  drained(): Promise<void> {
    if (this.buffered() === 0) return Promise.resolve();
    this.draining ??= new Promise((resolve) => {
      this.wake = resolve;
    });
    return this.draining;
  }
  pulled(): void {
    const wake = this.wake;
    this.wake = null;
    this.draining = null;
    wake?.();
  }
  end(): void {
    this.controller.close();
  }
  abort(): void {
    this.controller.error(new Error('stream aborted: slow consumer'));
  }
}
