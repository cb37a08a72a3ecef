import { Counter, Gauge, Registry } from 'prom-client';
import type { HubCore } from '../core/hub.ts';
import type { Hub } from '../hub.ts';
import type { WebhookStats } from '../webhooks/dispatcher.ts';

/**
 * Prometheus metrics read from the hub's own counters at scrape time, so the hot path pays nothing
 * for them. One registry per hub, so several hubs in one process (tests, Next.js dev) do not clash.
 */
export function createMetrics(hub: Hub): Registry {
  const registry = new Registry();
  const stat = (name: keyof ReturnType<HubCore['getStats']>) => () => hub.getStats()[name];
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  gauge('herald_sessions', 'Connected client sessions, all transports', stat('sessions'));
  gauge('herald_channels', 'Channels with at least one subscriber on this node', stat('channels'));
  gauge('herald_broker_up', '1 when the broker is reachable', () => (hub.broker.healthy() ? 1 : 0));
  counter('herald_publications_total', 'Publications accepted (duplicates excluded)', stat('published'));
  counter('herald_deliveries_total', 'Publications written to subscribers', stat('delivered'));
  counter('herald_slow_consumers_total', 'Connections cut for a full send queue', stat('slowConsumers'));
  const webhook = (name: keyof WebhookStats) => () => hub.webhooks?.stats()[name] ?? 0;
  counter('herald_webhooks_sent_total', 'Webhook events accepted by their receiver (2xx)', webhook('sent'));
  counter(
    'herald_webhooks_failed_total',
    'Webhook events given up: refused (4xx) or failing after maxAttempts',
    webhook('failed'),
  );
  counter('herald_webhooks_retried_total', 'Webhook tries after a failure', webhook('retried'));
  counter(
    'herald_webhooks_dropped_total',
    'Webhook events dropped: queue full, or unsent when a drain ran out of time',
    webhook('dropped'),
  );
  gauge(
    'herald_webhooks_queue_depth',
    'Webhook events waiting or being sent on this node',
    webhook('queued'),
  );
  return registry;
}

const registries = new WeakMap<HubCore, Registry>();

export async function metrics(_request: Request, hub: Hub): Promise<Response> {
  let registry = registries.get(hub);
  if (!registry) {
    registry = createMetrics(hub);
    registries.set(hub, registry);
  }
  return new Response(await registry.metrics(), { headers: { 'content-type': registry.contentType } });
}
