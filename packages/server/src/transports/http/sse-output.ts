import type { ServerResponse } from 'node:http';

/** Where a stream's bytes go: a Node response (the hub's own server) or a web stream (route handlers). */
export interface StreamOutput {
  write(chunk: Buffer): void;
  /** Bytes written but not yet taken by the network. */
  buffered(): number;
  /** Resolves once the output has taken what was written (or has ended). */
  drained(): Promise<void>;
  end(): void;
  /** Ends at once, dropping what is buffered (a slow consumer's backlog). */
  abort(): void;
}

export class NodeOutput implements StreamOutput {
  private draining: Promise<void> | null = null;
  constructor(private readonly res: ServerResponse) {}
  write(chunk: Buffer): void {
    if (!this.res.destroyed) this.res.write(chunk);
  }
  buffered(): number {
    return this.res.writableLength;
  }
  drained(): Promise<void> {
    const res = this.res;
    if (res.destroyed || !res.writableNeedDrain) return Promise.resolve();
    // A response that closes instead never drains: whatever waits is collected with it.
    this.draining ??= new Promise((resolve) =>
      res.once('drain', () => {
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
 * A `ReadableStream` controller whose queue is measured in bytes (high-water mark 0): the stream pulls
 * (`pulled`) when its reader asks for more with nothing queued.
 */
export class WebOutput implements StreamOutput {
  private draining: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  constructor(private readonly controller: ReadableStreamDefaultController<Uint8Array>) {}
  write(chunk: Buffer): void {
    this.controller.enqueue(chunk);
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
