import type { HubCore } from '../../core/hub.ts';
import { PollTransport } from './poll.ts';
import { RequestClients } from './request-clients.ts';
import { SseTransport } from './sse.ts';

/**
 * The HTTP transports of one hub and the state they share, made once with the hub (`Hub.http`): the
 * route table (web-standard handlers, Next.js) and the Node server both reach them through it.
 */
export class HttpTransports {
  /** Long-polling and client actions: clients whose every request is a session of its own. */
  readonly clients: RequestClients;
  readonly sse: SseTransport;
  readonly poll: PollTransport;

  constructor(hub: HubCore) {
    const { limits, presenceTtl } = hub.config;
    // Idle clients' buckets are swept as often as presence is refreshed.
    this.clients = new RequestClients(limits, (presenceTtl * 1000) / 3);
    this.sse = new SseTransport(hub);
    this.poll = new PollTransport(hub, this.clients);
  }
}
