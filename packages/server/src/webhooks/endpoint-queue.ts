import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { WebhookEndpoint } from '../config.ts';
import type { Logger } from '../core/logger.ts';

/** How a receiver is reached and retried: a webhook endpoint's delivery settings (docs/webhooks.md). */
export type DeliveryOptions = Pick<
  WebhookEndpoint,
  'url' | 'timeoutMs' | 'maxAttempts' | 'retryDelayMs' | 'maxRetryDelayMs' | 'concurrency' | 'queueSize'
>;

/** The signature headers of one attempt; `timestamp`: its time in Unix seconds. */
export interface RequestSigner {
  headers(id: string, timestamp: number, body: string): Record<string, string>;
}

/** One event on its way, shared by every endpoint that takes it: its body is encoded once. */
export interface OutgoingEvent {
  id: string;
  type: string;
  /** Events of one key are sent one at a time, in the order they were queued (a client's, a channel's). */
  key: string;
  body: string;
}

/** What an endpoint counts; shown by /metrics, /health and /admin. */
export interface DeliveryCounters {
  /** Accepted by the receiver (2xx). */
  sent: number;
  /** Given up: refused for good (4xx but 408/429), or still failing after `maxAttempts`. */
  failed: number;
  /** Tries after a failure (network error, timeout, 408, 429, 5xx). */
  retried: number;
  /** Never queued (the queue was full) or left unsent when a drain ran out of time. */
  dropped: number;
}

interface Lane {
  events: OutgoingEvent[];
  /** Tries of the lane's first event so far. */
  attempts: number;
}

/** How often at most a full queue is logged: each line says how many were dropped since the last. */
const DROP_LOG_INTERVAL_MS = 5_000;

/**
 * The deliveries to one endpoint from this node: at least once, each key's events in order, at most
 * `concurrency` requests at a time, at most `queueSize` events waiting (the rest are dropped, counted and
 * logged). A failed try is retried after an exponential backoff with jitter, or after the receiver's
 * `Retry-After`.
 */
export class EndpointQueue<E extends DeliveryOptions = DeliveryOptions> {
  readonly counters: DeliveryCounters = { sent: 0, failed: 0, retried: 0, dropped: 0 };
  private readonly url: URL;
  /** Keeps up to `concurrency` connections to the receiver open between requests. */
  private readonly agent: HttpAgent;
  /** Events waiting, by key; the first of each lane is the one being sent or waiting to be retried. */
  private readonly lanes = new Map<string, Lane>();
  /** Keys whose first event may be sent now, oldest first (`readyHead` is the next to take). */
  private ready: string[] = [];
  private readyHead = 0;
  private inFlight = 0;
  private queued = 0;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly requests = new Set<AbortController>();
  private readonly idleWaiters = new Set<() => void>();
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  private closed = false;

  constructor(
    readonly endpoint: E,
    private readonly log: Logger,
    private readonly signer: RequestSigner,
  ) {
    this.url = new URL(endpoint.url);
    const agentOptions = { keepAlive: true, maxSockets: endpoint.concurrency };
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  /** Events waiting or being sent. */
  get depth(): number {
    return this.queued;
  }

  /** Queues `event`; false (counted as dropped) when the queue is full or closed. */
  push(event: OutgoingEvent): boolean {
    if (this.closed || this.queued >= this.endpoint.queueSize) {
      this.dropped(1, event.type);
      return false;
    }
    this.queued++;
    const lane = this.lanes.get(event.key);
    if (lane) {
      lane.events.push(event);
    } else {
      this.lanes.set(event.key, { events: [event], attempts: 0 });
      this.ready.push(event.key);
      this.pump();
    }
    return true;
  }

  /**
   * Resolves once every queued event is settled, or at `deadline` (ms since the epoch): whatever is left
   * then is dropped, counted and logged, and requests still running are cut.
   */
  async drain(deadline: number): Promise<void> {
    if (this.queued > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        this.idleWaiters.add(done);
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    if (this.queued > 0) {
      this.log.warn(
        { url: this.endpoint.url, left: this.queued },
        'webhook deliveries left unsent when the drain ran out of time',
      );
      this.dropped(this.queued, undefined);
    }
    this.close();
  }

  /** Stops: no more tries, running requests cut, nothing more accepted. */
  close(): void {
    this.closed = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    for (const request of this.requests) request.abort();
    this.agent.destroy();
    this.lanes.clear();
    this.ready = [];
    this.readyHead = 0;
    this.queued = 0;
    this.settledAll();
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.endpoint.concurrency && this.readyHead < this.ready.length) {
      const key = this.ready[this.readyHead++];
      const lane = this.lanes.get(key);
      if (lane) void this.send(key, lane);
    }
    // Compact now and then, so the array of ready keys does not grow with every key ever seen.
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
  }

  private async send(key: string, lane: Lane): Promise<void> {
    const event = lane.events[0];
    lane.attempts++;
    this.inFlight++;
    const outcome = await this.attempt(event);
    this.inFlight--;
    if (this.closed) return;
    if (outcome.kind === 'retry' && lane.attempts < this.endpoint.maxAttempts) {
      this.counters.retried++;
      const timer = setTimeout(
        () => {
          this.retryTimers.delete(timer);
          this.ready.push(key);
          this.pump();
        },
        this.retryDelay(lane.attempts, outcome.retryAfter),
      );
      this.retryTimers.add(timer);
    } else {
      if (outcome.kind === 'sent') this.counters.sent++;
      else {
        this.counters.failed++;
        this.log.warn(
          {
            url: this.endpoint.url,
            id: event.id,
            type: event.type,
            attempts: lane.attempts,
            cause: outcome.cause,
          },
          'webhook delivery failed',
        );
      }
      this.queued--;
      lane.events.shift();
      lane.attempts = 0;
      if (lane.events.length > 0) this.ready.push(key);
      else this.lanes.delete(key);
      if (this.queued === 0) this.settledAll();
    }
    this.pump();
  }

  /** One POST of `event`, signed with this attempt's time. */
  private async attempt(
    event: OutgoingEvent,
  ): Promise<{ kind: 'sent' } | { kind: 'retry' | 'failed'; cause: string; retryAfter?: number }> {
    const controller = new AbortController();
    this.requests.add(controller);
    const timer = setTimeout(() => controller.abort(), this.endpoint.timeoutMs);
    try {
      const headers = this.signer.headers(event.id, Math.floor(Date.now() / 1000), event.body);
      const res = await this.post(event.body, headers, controller.signal);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return { kind: 'sent' };
      const cause = `HTTP ${status}`;
      if (status === 408 || status === 429 || status >= 500) {
        const header = res.headers['retry-after'];
        const retryAfter = status === 429 || status === 503 ? parseRetryAfter(header ?? null) : undefined;
        return { kind: 'retry', cause, retryAfter };
      }
      // Any other answer, a redirect too: a receiver that moved is not followed with signed events.
      return { kind: 'failed', cause };
    } catch (err) {
      const cause = controller.signal.aborted
        ? `timeout after ${this.endpoint.timeoutMs} ms`
        : errorCause(err);
      return { kind: 'retry', cause };
    } finally {
      clearTimeout(timer);
      this.requests.delete(controller);
    }
  }

  /**
   * One POST; resolves once the answer is read to its end (so the connection is reused), whatever its
   * status. Node's http client rather than fetch: a fraction of the CPU per request.
   */
  private post(body: string, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          signal,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'herald-webhooks',
            ...headers,
          },
        },
        (res) => {
          res.on('error', reject);
          res.on('end', () => resolve(res));
          res.resume();
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Milliseconds before try `attempts + 1`: `Retry-After` if the receiver said, else backoff with jitter. */
  private retryDelay(attempts: number, retryAfter: number | undefined): number {
    const { retryDelayMs, maxRetryDelayMs } = this.endpoint;
    if (retryAfter !== undefined) return Math.min(retryAfter, maxRetryDelayMs);
    const backoff = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** Math.min(attempts - 1, 30));
    // Between half and all of it, so the retries of many events (and many nodes) do not arrive together.
    return backoff / 2 + Math.random() * (backoff / 2);
  }

  private dropped(count: number, type: string | undefined): void {
    this.counters.dropped += count;
    this.droppedSinceLog += count;
    const now = Date.now();
    if (now - this.lastDropLog < DROP_LOG_INTERVAL_MS) return;
    this.lastDropLog = now;
    this.log.warn(
      { url: this.endpoint.url, dropped: this.droppedSinceLog, queueSize: this.endpoint.queueSize, type },
      'webhook events dropped: the queue is full',
    );
    this.droppedSinceLog = 0;
  }

  private settledAll(): void {
    for (const waiter of this.idleWaiters) waiter();
    this.idleWaiters.clear();
  }
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function errorCause(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
