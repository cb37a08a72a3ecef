import type { ErrorBody, PublishResult } from '@herald/protocol';
import { Backoff } from './backoff.ts';
import { Emitter, reportListenerError } from './emitter.ts';
import { HeraldClientError, isTransient } from './errors.ts';
import { randomId } from './ids.ts';
import type { Link } from './link.ts';
import type { OutboxStore } from './outbox-store.ts';

/**
 * `sending` (waiting for a connection, on the wire, or between retries) → `sent` (the hub confirmed it)
 * or `failed` (refused, or not confirmed in time; `retry` sends it again). `cancelled` when the app gave up.
 */
export type OutboxState = 'sending' | 'sent' | 'failed' | 'cancelled';

export interface OutboxMessage {
  /** The client's id for the message (yours if you passed one to `publish`). */
  id: string;
  channel: string;
  data: unknown;
  event?: string;
  /** Sent with every try, so the hub publishes the message once however often it is retried. */
  idempotencyKey: string;
  state: OutboxState;
  createdAt: number;
  /** When it first went out; the hub remembers the key for its idempotency window from about then. */
  firstSentAt?: number;
  attempts: number;
  /** The publication's position once sent (`offset` lets the app match its echo on the channel). */
  result?: PublishResult;
  error?: ErrorBody;
  /** The client (tab) that sends it; a kept message whose owner is gone is taken over by the next one. */
  owner?: string;
}

export interface PublishOptions {
  /** Event name (SSE `event:`); default `message`. */
  event?: string;
  /** Your id for the message, e.g. to match an optimistic chat line; default: a random UUID. */
  id?: string;
}

export interface OutboxOptions {
  /** This client's id, recorded as the owner of its messages. */
  owner: string;
  /**
   * Reads the messages kept from an earlier page load that this client should send. Default: all of the
   * store's. With tabs sharing a connection, only those whose tab is gone, claimed under a lock.
   */
  restore?: (store: OutboxStore, owner: string) => Promise<OutboxMessage[]>;
  /**
   * Milliseconds a sent-but-unconfirmed message may be retried. Past the hub's idempotency window a retry
   * could publish twice, so the message fails with `expired` instead. Default 110 s (the hub keeps keys 120 s).
   */
  idempotencyWindow: number;
  minRetryDelay: number;
  maxRetryDelay: number;
}

/** What `publish` returns: settles when the hub confirms (or the message fails); `id` is known at once. */
export type PendingPublish = Promise<PublishResult> & { readonly id: string };

interface Waiter {
  resolve(result: PublishResult): void;
  reject(error: HeraldClientError): void;
}

/**
 * Client publishes that survive disconnects and reloads. Each message keeps one idempotency key for all its
 * tries; per channel, messages go out one at a time in the order they were published.
 */
export class Outbox {
  private readonly messages = new Map<string, OutboxMessage>();
  /** Channels whose head message is on the wire or waiting out a retry delay. */
  private readonly busy = new Set<string>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly emitter = new Emitter<{ change: OutboxMessage }>();
  private readonly backoff: Backoff;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private ready = false;
  private closed = false;
  private readonly unlisten: () => void;
  /** Resolves once the messages kept from an earlier page load are back. */
  readonly loaded: Promise<void>;

  constructor(
    private readonly link: Link,
    private readonly store: OutboxStore,
    private readonly options: OutboxOptions,
  ) {
    this.backoff = new Backoff(options.minRetryDelay, options.maxRetryDelay);
    this.unlisten = link.on((event) => {
      if (event.type === 'state' && event.state.status === 'connected') this.pump();
    });
    this.loaded = (options.restore ?? ((s) => s.load()))(store, options.owner).then(
      (kept) => {
        for (const message of kept) {
          if (this.messages.has(message.id)) continue;
          this.messages.set(message.id, message);
          this.emitter.emit('change', { ...message });
        }
      },
      (err) => reportListenerError(err),
    );
    void this.loaded.then(() => {
      this.ready = true;
      this.pump();
    });
  }

  on(event: 'change', listener: (message: OutboxMessage) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /** Unfinished messages (`sending`, `failed`), oldest first; of one channel if given. */
  list(channel?: string): OutboxMessage[] {
    const all = [...this.messages.values()].map((m) => ({ ...m }));
    return channel === undefined ? all : all.filter((m) => m.channel === channel);
  }

  publish(channel: string, data: unknown, options: PublishOptions = {}): PendingPublish {
    const id = options.id ?? randomId();
    const refuse = (error: HeraldClientError) => Object.assign(Promise.reject(error), { id });
    if (this.closed) return refuse(new HeraldClientError('closed', 'the client was closed'));
    if (this.messages.has(id))
      return refuse(new HeraldClientError('bad_request', `message ${id} is already in the outbox`));
    const message: OutboxMessage = {
      id,
      channel,
      data,
      idempotencyKey: randomId(),
      state: 'sending',
      createdAt: Date.now(),
      attempts: 0,
      owner: this.options.owner,
    };
    if (options.event !== undefined) message.event = options.event;
    this.messages.set(id, message);
    const done = Object.assign(this.wait(id), { id });
    this.changed(message);
    this.pump();
    return done;
  }

  /** Sends a failed message again, with the same idempotency key. */
  retry(id: string): Promise<PublishResult> {
    const message = this.messages.get(id);
    if (message?.state !== 'failed')
      return Promise.reject(new HeraldClientError('bad_request', `no failed message ${id} to retry`));
    message.state = 'sending';
    // Asked for explicitly: a fresh window (same key, so the hub still drops it if it remembers it).
    if (message.error?.code === 'expired') message.firstSentAt = undefined;
    message.error = undefined;
    const done = this.wait(id);
    this.changed(message);
    this.pump();
    return done;
  }

  /**
   * Stops sending a message and forgets it. One already on the wire may still be published: the hub is
   * not asked to take it back.
   */
  cancel(id: string): boolean {
    const message = this.messages.get(id);
    if (!message) return false;
    this.messages.delete(id);
    message.state = 'cancelled';
    message.error = { code: 'cancelled', message: 'cancelled by the app' };
    this.settle(message, new HeraldClientError('cancelled', 'cancelled by the app'));
    this.changed(message);
    this.pump();
    return true;
  }

  close(): void {
    this.closed = true;
    this.unlisten();
    for (const timer of this.timers) clearTimeout(timer);
    for (const id of this.waiters.keys())
      this.settle({ id } as OutboxMessage, new HeraldClientError('closed', 'the client was closed'));
    this.emitter.clear();
  }

  private wait(id: string): Promise<PublishResult> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(id, list);
    });
  }

  private settle(message: OutboxMessage, outcome: PublishResult | HeraldClientError): void {
    const list = this.waiters.get(message.id);
    this.waiters.delete(message.id);
    for (const waiter of list ?? []) {
      if (outcome instanceof HeraldClientError) waiter.reject(outcome);
      else waiter.resolve(outcome);
    }
  }

  /** Tells listeners and the store. Only unfinished messages are kept. */
  private changed(message: OutboxMessage): void {
    const write =
      message.state === 'sending' || message.state === 'failed'
        ? this.store.put({ ...message })
        : this.store.delete(message.id);
    write.catch((err) => reportListenerError(err));
    this.emitter.emit('change', { ...message });
  }

  /** Sends the oldest waiting message of every channel that has none on the wire. */
  private pump(): void {
    if (!this.ready || this.closed || this.link.state.status !== 'connected') return;
    for (const message of this.messages.values()) {
      if (message.state !== 'sending' || this.busy.has(message.channel)) continue;
      if (
        message.firstSentAt !== undefined &&
        Date.now() - message.firstSentAt > this.options.idempotencyWindow
      ) {
        this.fail(
          message,
          new HeraldClientError(
            'expired',
            'not confirmed within the idempotency window; it may or may not have been published',
          ),
        );
        continue;
      }
      this.send(message);
    }
  }

  private send(message: OutboxMessage): void {
    const { channel, data, event, idempotencyKey } = message;
    this.busy.add(channel);
    message.attempts++;
    message.firstSentAt ??= Date.now();
    this.store.put({ ...message }).catch((err) => reportListenerError(err));
    const request = { type: 'publish' as const, channel, data, idempotencyKey };
    this.link.request(event === undefined ? request : { ...request, event }).then(
      (result) => {
        this.busy.delete(channel);
        if (this.messages.get(message.id) === message) {
          this.messages.delete(message.id);
          message.state = 'sent';
          message.result = result as PublishResult;
          this.backoff.reset();
          this.settle(message, message.result);
          this.changed(message);
        }
        this.pump();
      },
      (err: HeraldClientError) => {
        if (this.messages.get(message.id) !== message || this.closed) {
          this.busy.delete(channel);
          this.pump();
        } else if (!isTransient(err.code)) {
          this.busy.delete(channel);
          this.fail(message, err);
          this.pump();
        } else if (err.code === 'disconnected') {
          this.busy.delete(channel); // goes again as soon as a connection is up
          this.pump();
        } else {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            this.busy.delete(channel);
            this.pump();
          }, this.backoff.next());
          this.timers.add(timer);
        }
      },
    );
  }

  private fail(message: OutboxMessage, error: HeraldClientError): void {
    message.state = 'failed';
    message.error = error.toJSON();
    this.settle(message, error);
    this.changed(message);
  }
}
