import {
  encodeCursor,
  type PollResult,
  type Publication,
  type RefreshCommand,
  type StreamPosition,
  type SubscribeCommand,
  type SubscribeOptions,
  type SubscribeResult,
  type UnsubscribeCommand,
} from '@herald/protocol';
import { HeraldClientError } from '../errors.ts';
import { ABNORMAL_CLOSURE, endpointUrl, type Transport } from '../transport.ts';
import { closeCodeOf, fetchOf, type HttpOptions, headersFor, readRefusal, refusesChannel } from './http.ts';
import { type ChannelOutcome, channelError, HttpConnection } from './http-connection.ts';

export interface PollTransportOptions extends HttpOptions {
  /** Seconds the hub may hold a poll with nothing new (it caps this at its `poll.timeout`). Default 25. */
  timeout?: number;
}

/**
 * Herald over long-polling: `GET /connection/poll` with the channels and the cursor, again and again;
 * client actions for everything sent. Stateless on the hub, so it passes any proxy and any node. Channels
 * that need a subscription token cannot be polled (the poll URL carries only the connection token).
 */
export function pollTransport(options: PollTransportOptions = {}): Transport {
  return {
    name: 'poll',
    open: (url, handlers) => new PollConnection(url, handlers, fetchOf(options), options.timeout ?? 25),
  };
}

/** Aborts a poll so that the next one carries the new channel list; not a failure. */
const RESTART = Symbol('restart');

class PollConnection extends HttpConnection {
  private readonly channels = new Set<string>();
  /** Channels whose first result a command (connect or subscribe) waits for, by command id. */
  private readonly awaited = new Map<string, number>();
  private connectId: number | undefined;
  /** Keyed by channel without a prototype, so a channel named `__proto__` is one like any other. */
  private readonly connectOutcomes: Record<string, ChannelOutcome> = Object.create(null);
  private inflight: AbortController | undefined;
  private polling = false;

  constructor(
    base: string,
    handlers: ConstructorParameters<typeof HttpConnection>[1],
    fetchFn: ConstructorParameters<typeof HttpConnection>[2],
    private readonly timeout: number,
  ) {
    super(base, handlers, fetchFn);
  }

  protected actionFields(): Record<string, unknown> {
    return {};
  }

  protected connect(id: number, subs: Record<string, SubscribeOptions>): void {
    this.connectId = id;
    for (const channel of Object.keys(subs)) {
      this.channels.add(channel);
      this.awaited.set(channel, id);
    }
    if (this.channels.size === 0) void this.probe();
    else this.kick();
  }

  /** With nothing to poll yet, one request shows that the endpoint answers. */
  private async probe(): Promise<void> {
    let response: Response;
    try {
      response = await this.fetchFn(endpointUrl(this.base, '/connection/poll?timeout=0').href, {
        headers: headersFor(this.token),
        cache: 'no-store',
      });
    } catch (err) {
      this.end(ABNORMAL_CLOSURE, `the poll request failed: ${String(err)}`);
      return;
    }
    // A poll without channels is a bad request: the hub is there and heard it.
    if (response.ok || response.status === 400) {
      await response.body?.cancel();
      this.maybeConnected();
    } else {
      const refusal = await readRefusal(response);
      this.end(closeCodeOf(refusal), refusal.message);
    }
  }

  /** Starts polling, or restarts the poll in flight with the current channels. */
  private kick(): void {
    if (this.polling) this.inflight?.abort(RESTART);
    else void this.loop();
  }

  private async loop(): Promise<void> {
    this.polling = true;
    while (!this.closed && this.channels.size > 0) {
      const channels = [...this.channels];
      const resolving = channels.filter((c) => this.awaited.has(c));
      // A new channel is answered at once; otherwise the hub holds the poll until there is news.
      const timeout = resolving.length > 0 ? 0 : this.timeout;
      const cursor = this.cursorOf(channels);
      const abort = new AbortController();
      this.inflight = abort;
      // A poll stuck somewhere on the way (a stalled proxy) is given up after its hold and a margin.
      const guard = setTimeout(() => abort.abort(), (timeout + 15) * 1000);
      let answer: PollResult;
      try {
        const response = await this.fetchFn(this.pollUrl(channels, timeout, cursor), {
          headers: headersFor(this.token),
          signal: abort.signal,
          cache: 'no-store',
        });
        if (!response.ok) {
          const refusal = await readRefusal(response);
          if (refusesChannel(refusal)) {
            await this.isolate(channels);
            continue;
          }
          this.end(closeCodeOf(refusal), refusal.message);
          break;
        }
        answer = (await response.json()) as PollResult;
      } catch (err) {
        if (abort.signal.reason === RESTART) continue;
        this.end(ABNORMAL_CLOSURE, `the poll failed: ${String(err)}`);
        break;
      } finally {
        clearTimeout(guard);
      }
      if (this.closed) break;
      this.answer(answer, resolving, cursor);
      // The next poll resumes from the client's position, which counts this answer once the client has
      // taken it: its pushes at once, its replies through promises, so by the next task.
      await nextTask();
    }
    this.polling = false;
  }

  /** Where each of `channels` resumes: the client's one position for it. */
  private cursorOf(channels: string[]): Map<string, StreamPosition> {
    const cursor = new Map<string, StreamPosition>();
    for (const channel of channels) {
      const position = this.handlers.position(channel);
      if (position) cursor.set(channel, position);
    }
    return cursor;
  }

  private pollUrl(channels: string[], timeout: number, cursor = this.cursorOf(channels)): string {
    const url = endpointUrl(this.base, '/connection/poll');
    for (const channel of channels) url.searchParams.append('channel', channel);
    if (cursor.size > 0) url.searchParams.set('cursor', encodeCursor(cursor));
    url.searchParams.set('timeout', String(timeout));
    return url.href;
  }

  /**
   * A refused channel refuses the whole poll: find which by polling each alone, fail those, keep the rest.
   * Answers of these probes are dropped; the next poll reads the same positions again.
   */
  private async isolate(channels: string[]): Promise<void> {
    for (const channel of channels) {
      if (this.closed) return;
      let response: Response;
      try {
        response = await this.fetchFn(this.pollUrl([channel], 0), {
          headers: headersFor(this.token),
          cache: 'no-store',
        });
      } catch (err) {
        this.end(ABNORMAL_CLOSURE, `the poll failed: ${String(err)}`);
        return;
      }
      if (response.ok) {
        await response.body?.cancel();
        continue;
      }
      const refusal = await readRefusal(response);
      if (!refusesChannel(refusal)) continue; // the next poll meets it again and ends the connection
      this.channels.delete(channel);
      const error = HeraldClientError.from(refusal.error);
      this.settle(channel, channelError(error));
    }
    this.maybeConnected();
  }

  /**
   * Hands an answer to the poll that resumed from `cursor` on: results for the channels commands wait
   * for, then publications as pushes.
   */
  private answer(answer: PollResult, resolving: string[], cursor: Map<string, StreamPosition>): void {
    const results = new Map<string, SubscribeResult>();
    const waiting = new Set(resolving.filter((c) => this.awaited.has(c) && this.channels.has(c)));
    const moved: string[] = [];
    for (const event of answer.subscribed) {
      if (!this.channels.has(event.channel)) continue;
      if (!waiting.has(event.channel)) {
        moved.push(event.channel);
        continue;
      }
      const result: SubscribeResult = {
        channel: event.channel,
        epoch: event.epoch,
        offset: event.offset,
        publications: [],
      };
      if (event.recovered !== undefined) result.recovered = event.recovered;
      results.set(event.channel, result);
    }
    // A resumed channel that is not news continues from its cursor: what came for it was recovered.
    const resumed = new Set<string>();
    for (const channel of waiting) {
      const position = cursor.get(channel);
      if (results.has(channel) || !position) continue;
      results.set(channel, { channel, ...position, publications: [], recovered: true });
      resumed.add(channel);
    }
    const live: Publication[] = [];
    for (const pub of answer.publications) {
      if (!this.channels.has(pub.channel)) continue;
      const result = results.get(pub.channel);
      if (result && resumed.has(pub.channel)) {
        result.publications.push(pub);
        result.offset = pub.offset;
      } else live.push(pub);
    }
    for (const [channel, result] of results) this.settle(channel, result);
    this.maybeConnected();
    // The hub could not continue a live channel from its position (history lost, a new epoch): the client
    // resubscribes and is told, as the WebSocket hub would tell it.
    for (const channel of moved) {
      const reason = 'the stream could not be continued from the position';
      this.push({ type: 'unsub', channel, code: 'insufficient_state', reason, resubscribe: true });
    }
    for (const pub of live) this.push({ type: 'pub', ...pub });
  }

  /** A channel's outcome: into the connect reply, or the answer to its subscribe command. */
  private settle(channel: string, outcome: ChannelOutcome): void {
    const id = this.awaited.get(channel);
    if (id === undefined) return;
    this.awaited.delete(channel);
    if (id === this.connectId) this.connectOutcomes[channel] = outcome;
    else if ('error' in outcome) this.replyError(id, HeraldClientError.from(outcome.error));
    else this.reply(id, outcome);
  }

  private maybeConnected(): void {
    const id = this.connectId;
    if (id === undefined || [...this.awaited.values()].includes(id)) return;
    this.connectId = undefined;
    // Polls are short sessions of their own: no lasting client id, and no heartbeat to watch (each poll
    // has its own deadline).
    this.connected(id, { client: '', user: null, ping: 0, subs: this.connectOutcomes });
  }

  protected subscribe(command: SubscribeCommand): void {
    const { id, channel } = command;
    this.channels.add(channel);
    this.awaited.set(channel, id);
    this.kick();
  }

  protected unsubscribe(command: UnsubscribeCommand): void {
    this.channels.delete(command.channel);
    this.awaited.delete(command.channel);
    this.reply(command.id, {});
    this.kick();
  }

  protected refresh(command: RefreshCommand): void {
    // Every poll and action carries the token: the next one uses the new one.
    this.token = command.token;
    this.reply(command.id, {});
  }

  protected stop(): void {
    this.inflight?.abort();
  }
}

/** Resolves in the next task, once every promise settled by now has run its callbacks. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
