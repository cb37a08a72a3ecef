import type {
  Command,
  ConnectResult,
  Push,
  RefreshCommand,
  SubscribeCommand,
  SubscribeOptions,
  SubscribeResult,
  UnsubscribeCommand,
} from '@herald/protocol';
import type { HeraldClientError } from '../errors.ts';
import type { TransportConnection, TransportHandlers } from '../transport.ts';
import { clientAction, type FetchLike } from './http.ts';

export type ChannelOutcome = SubscribeResult | { error: { code: string; message: string } };

/**
 * What SSE and long-polling share: Herald's commands turned into HTTP. Reads and publishes become client
 * actions (`POST /connection/<action>`); `connect`, `subscribe`, `unsubscribe` and `refresh` are each
 * transport's own, and so is the downstream, which it turns into replies and pushes.
 */
export abstract class HttpConnection implements TransportConnection {
  protected token: string | undefined;
  protected closed = false;

  constructor(
    protected readonly base: string,
    protected readonly handlers: TransportHandlers,
    protected readonly fetchFn: FetchLike,
  ) {
    // Nothing to open before `connect`: that command says what to stream.
    queueMicrotask(() => {
      if (!this.closed) handlers.open();
    });
  }

  send(command: Command): void {
    if (this.closed) return;
    switch (command.type) {
      case 'connect':
        this.token = command.token;
        this.connect(command.id, command.subs ?? {});
        return;
      case 'subscribe':
        this.subscribe(command);
        return;
      case 'unsubscribe':
        this.unsubscribe(command);
        return;
      case 'refresh':
        this.refresh(command);
        return;
      case 'ping':
        this.reply(command.id, {});
        return;
      case 'pong':
        return; // the hub watches HTTP streams and polls by their sockets
      default: {
        const { id, type, ...body } = command;
        this.action(id, type, body);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  protected abstract connect(id: number, subs: Record<string, SubscribeOptions>): void;
  protected abstract subscribe(command: SubscribeCommand): void;
  protected abstract unsubscribe(command: UnsubscribeCommand): void;
  protected abstract refresh(command: RefreshCommand): void;
  /** Stops the downstream (the stream, the poll in flight). */
  protected abstract stop(): void;
  /** Fields every action of this connection carries (the SSE stream's `session`). */
  protected abstract actionFields(): Record<string, unknown>;

  /** Runs a client action and answers the command with its result or error. */
  protected action(id: number, name: string, body: Record<string, unknown>): void {
    clientAction(this.fetchFn, this.base, name, { ...body, ...this.actionFields() }, this.token).then(
      (result) => this.reply(id, result),
      (err: HeraldClientError) => this.replyError(id, err),
    );
  }

  protected reply(id: number, result: unknown): void {
    if (!this.closed) this.handlers.frame({ id, result });
  }

  protected replyError(id: number, error: HeraldClientError): void {
    if (!this.closed) this.handlers.frame({ id, error: error.toJSON() });
  }

  protected push(push: Push): void {
    if (!this.closed) this.handlers.frame(push);
  }

  protected connected(id: number, result: ConnectResult): void {
    this.reply(id, result);
  }

  /** Ends the connection from this side or the hub's, once. */
  protected end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    this.handlers.close({ code, reason });
  }
}

/** A refusal as the error of one channel's outcome. */
export function channelError(error: HeraldClientError): ChannelOutcome {
  return { error: error.toJSON() };
}
