import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names lower-cased; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: Buffer;
  /** The body as it was framed: its chunks, or one part when it was not chunked. */
  chunks: Buffer[];
  /** How the body was delimited. */
  framing: 'chunked' | 'length' | 'close';
}

/**
 * Decodes the HTTP/1.x responses in `bytes`, in order, by RFC 9112's framing rules and nothing looser:
 * a chunk whose size line, length or closing CRLF is off is an error, not a guess. `closed`: the
 * connection has ended, so a body without length runs to the end. Returns the complete responses and
 * whether bytes of an unfinished one remain.
 */
export function decodeResponses(bytes: Buffer, closed: boolean): { responses: RawResponse[]; rest: number } {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const [statusLine, ...lines] = bytes.toString('latin1', at, headEnd).split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine);
    if (!status) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let p = headEnd + 4;
    let chunks: Buffer[];
    let framing: RawResponse['framing'];
    if (headers['transfer-encoding'] === 'chunked') {
      framing = 'chunked';
      chunks = [];
      for (;;) {
        const lineEnd = bytes.indexOf('\r\n', p);
        if (lineEnd < 0) return { responses, rest: bytes.length - at };
        const sizeText = bytes.toString('latin1', p, lineEnd);
        if (!/^[0-9a-f]+$/i.test(sizeText))
          throw new Error(`bad chunk size line ${JSON.stringify(sizeText)}`);
        const size = Number.parseInt(sizeText, 16);
        if (size === 0) {
          if (bytes.length < lineEnd + 4) return { responses, rest: bytes.length - at };
          if (bytes.toString('latin1', lineEnd + 2, lineEnd + 4) !== '\r\n')
            throw new Error('trailers or a missing CRLF after the last chunk');
          p = lineEnd + 4;
          break;
        }
        const dataEnd = lineEnd + 2 + size;
        if (bytes.length < dataEnd + 2) return { responses, rest: bytes.length - at };
        if (bytes.toString('latin1', dataEnd, dataEnd + 2) !== '\r\n')
          throw new Error(`chunk of ${size} bytes not followed by CRLF`);
        chunks.push(bytes.subarray(lineEnd + 2, dataEnd));
        p = dataEnd + 2;
      }
    } else if (headers['content-length'] !== undefined) {
      framing = 'length';
      const end = p + Number(headers['content-length']);
      if (bytes.length < end) break;
      chunks = [bytes.subarray(p, end)];
      p = end;
    } else {
      framing = 'close';
      if (!closed) break;
      chunks = [bytes.subarray(p)];
      p = bytes.length;
    }
    responses.push({ status: Number(status[1]), headers, body: Buffer.concat(chunks), chunks, framing });
    at = p;
  }
  return { responses, rest: bytes.length - at };
}

/**
 * Writes `request` (raw bytes: one or several pipelined requests) on a new loopback connection and
 * collects what comes back until the server closes it or `timeoutMs` passes.
 */
export class RawHttpConnection {
  readonly socket: Socket;
  private received: Buffer[] = [];
  readonly closed: Promise<void>;

  constructor(port: number, request: string) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('data', (data: Buffer) => this.received.push(data));
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
    this.socket.write(request);
  }

  get bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  /** The responses decoded so far. */
  responses(): RawResponse[] {
    return decodeResponses(this.bytes, this.socket.destroyed).responses;
  }

  close(): void {
    this.socket.destroy();
  }
}
