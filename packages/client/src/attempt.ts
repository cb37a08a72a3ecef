import type { Command, ErrorBody } from '@herald/protocol';
import { HeraldClientError } from './errors.ts';
import type { Transport, TransportConnection } from './transport.ts';

interface Waiter {
  resolve(result: unknown): void;
  reject(error: HeraldClientError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export type CommandBody = Command extends infer C
  ? C extends { id: number }
    ? Omit<C, 'id'>
    : never
  : never;

/** One try of one transport, from opening to its close. */
export class Attempt {
  connected = false;
  pingMs = 0;
  lastFrameAt = Date.now();
  /** The hub's `disconnect` push, which says why better than the close event. */
  farewell: { code: number; reason: string } | undefined;
  /** Why the last connect was refused (the reply's error), for the state's reason. */
  refusal: string | undefined;
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  conn!: TransportConnection;

  constructor(
    readonly transport: Transport,
    readonly index: number,
  ) {}

  call(command: CommandBody, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.waiters.delete(id);
              reject(new HeraldClientError('timeout', `no reply to ${command.type} within ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      this.waiters.set(id, { resolve, reject, timer });
      this.conn.send({ ...command, id } as Command);
    });
  }

  reply(frame: { id: number; result?: unknown; error?: ErrorBody }): void {
    const waiter = this.waiters.get(frame.id);
    if (!waiter) return;
    this.waiters.delete(frame.id);
    clearTimeout(waiter.timer);
    if (frame.error) waiter.reject(HeraldClientError.from(frame.error));
    else waiter.resolve(frame.result);
  }

  /** Fails every request still waiting: the connection they went out on is gone. */
  abandon(): void {
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new HeraldClientError('disconnected', 'the connection closed before the reply'));
    }
    this.waiters.clear();
  }
}
