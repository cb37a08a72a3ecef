import type { WebhookEventData, WebhookEventType } from '@herald/protocol';
import type { WebhookEndpoint } from '../config.ts';
import { namespaceOf } from '../core/channel-name.ts';
import type { Logger } from '../core/logger.ts';
import { type DeliveryCounters, EndpointQueue } from './endpoint-queue.ts';
import { newWebhookId, WebhookSigner } from './signer.ts';

export interface WebhookStats extends DeliveryCounters {
  /** Events waiting or being sent, over every endpoint. */
  queued: number;
}

/** Which events one endpoint takes: its `events` (every type but `publication` by default) and `namespaces`. */
function accepts(endpoint: WebhookEndpoint, type: WebhookEventType, channel: string | undefined): boolean {
  if (endpoint.events ? !endpoint.events.includes(type) : type === 'publication') return false;
  return (
    channel === undefined ||
    endpoint.namespaces === undefined ||
    endpoint.namespaces.includes(namespaceOf(channel))
  );
}

/**
 * This node's webhook senders: each event is encoded once, given its `webhook-id`, and queued for every
 * endpoint that takes it (see `EndpointQueue` for the delivery rules).
 */
export class WebhookDispatcher {
  readonly queues: EndpointQueue<WebhookEndpoint>[];
  /** Every queue it counts and drains: its own, and those of other formats riding on it (Pusher's). */
  private readonly all: EndpointQueue[];

  constructor(endpoints: readonly WebhookEndpoint[], log: Logger) {
    this.queues = endpoints.map(
      (endpoint) => new EndpointQueue(endpoint, log, new WebhookSigner(endpoint.secret)),
    );
    this.all = [...this.queues];
  }

  /** Counts `queues` in its stats and drains and closes them with its own. */
  adopt(queues: readonly EndpointQueue[]): void {
    this.all.push(...queues);
  }

  /** Whether any endpoint takes events of `type` (so work for unwanted ones can be skipped). */
  wants(type: WebhookEventType): boolean {
    return this.queues.some((queue) => {
      const { events } = queue.endpoint;
      return events ? events.includes(type) : type !== 'publication';
    });
  }

  /**
   * Sends an event to every endpoint that takes it. `key` orders it after the earlier events of the same
   * key (a client's, a channel's); `at`: when it happened (ms since the epoch).
   */
  emit<T extends WebhookEventType>(type: T, data: WebhookEventData[T], key: string, at = Date.now()): void {
    const channel = (data as { channel?: string }).channel;
    let body: string | undefined;
    let id: string | undefined;
    for (const queue of this.queues) {
      if (!accepts(queue.endpoint, type, channel)) continue;
      body ??= JSON.stringify({ type, timestamp: new Date(at).toISOString(), data });
      id ??= newWebhookId();
      queue.push({ id, type, key, body });
    }
  }

  stats(): WebhookStats {
    const stats: WebhookStats = { sent: 0, failed: 0, retried: 0, dropped: 0, queued: 0 };
    for (const queue of this.all) {
      stats.sent += queue.counters.sent;
      stats.failed += queue.counters.failed;
      stats.retried += queue.counters.retried;
      stats.dropped += queue.counters.dropped;
      stats.queued += queue.depth;
    }
    return stats;
  }

  /** Sends what is queued, for at most `timeoutMs`; what is left then is dropped and counted. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await Promise.all(this.all.map((queue) => queue.drain(deadline)));
  }

  close(): void {
    for (const queue of this.all) queue.close();
  }
}
