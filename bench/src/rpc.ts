import type { ChildProcess } from 'node:child_process';

/**
 * Request/reply over a child's IPC channel: the orchestrator drives servers and load generators with
 * it. Every call has a deadline, so a stuck child fails the step instead of hanging the run.
 */
export class RpcClient {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly ready: Promise<unknown>;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    let resolveReady!: (v: unknown) => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    child.on('message', (raw) => {
      const message = raw as { id?: number; ready?: unknown; result?: unknown; error?: string };
      if (message.ready !== undefined) {
        resolveReady(message.ready);
        return;
      }
      const call = this.waiting.get(message.id ?? -1);
      if (!call) return;
      this.waiting.delete(message.id!);
      clearTimeout(call.timer);
      if (message.error !== undefined) call.reject(new Error(`${name}: ${message.error}`));
      else call.resolve(message.result);
    });
    child.once('exit', (code, signal) => {
      const error = new Error(`${name} exited (${signal ?? code})`);
      rejectReady(error);
      for (const call of this.waiting.values()) {
        clearTimeout(call.timer);
        call.reject(error);
      }
      this.waiting.clear();
    });
  }

  /** Resolves with what the child announced when it was ready (a server's port). */
  async whenReady<T>(timeoutMs = 30_000): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} not ready within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([this.ready, timeout])) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: ${cmd} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, cmd, ...args });
    });
  }
}

export type Handlers = Record<string, (args: Record<string, unknown>) => unknown>;

/** The child's side: announces `ready`, then answers calls; it exits when the orchestrator goes away. */
export function serveRpc(handlers: Handlers, ready: unknown): void {
  if (!process.send) throw new Error('run me through the bench orchestrator (no IPC channel)');
  process.on('message', (raw) => {
    const { id, cmd, ...args } = raw as { id: number; cmd: string } & Record<string, unknown>;
    const handler = handlers[cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${cmd}`);
        return handler(args);
      })
      .then(
        (result) => process.send?.({ id, result: result ?? null }),
        (err: Error) => process.send?.({ id, error: err.stack ?? String(err) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready });
}
