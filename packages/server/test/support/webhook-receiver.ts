import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookEvent } from '@herald/protocol';
import { Webhook } from 'standardwebhooks';

/** A fresh Standard Webhooks secret. */
export function webhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** One request as the receiver got it, checked with the `standardwebhooks` package. */
export interface Received {
  id: string;
  headers: Record<string, string>;
  body: string;
  /** The verified event; undefined when the signature did not verify. */
  event: WebhookEvent | undefined;
  /** Ms since the epoch when it arrived. */
  at: number;
  /** Whether the receiver answered 2xx. */
  accepted?: boolean;
}

/** What the receiver answers: a status (and headers), or `hang` (never answer). */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

/**
 * The app's webhook endpoint: a real HTTP server on a loopback port that verifies every request with the
 * official `standardwebhooks` library and records it. `answer` decides each reply (200 by default).
 */
export class WebhookReceiver {
  readonly requests: Received[] = [];
  answer: (request: Received) => Answer = () => ({ status: 200 });
  private server: Server;
  private readonly hanging = new Set<ServerResponse>();
  private readonly verifier: Webhook;
  port = 0;

  private constructor(readonly secret: string) {
    this.verifier = new Webhook(secret);
    this.server = this.create();
  }

  static async start(secret = webhookSecret(), port = 0): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secret);
    await receiver.listen(port);
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Events accepted (answered 2xx), verified, in arrival order; each `webhook-id` once. */
  get events(): WebhookEvent[] {
    const seen = new Set<string>();
    const events: WebhookEvent[] = [];
    for (const r of this.requests) {
      if (!r.event || seen.has(r.id) || !r.accepted) continue;
      seen.add(r.id);
      events.push(r.event);
    }
    return events;
  }

  of<T extends WebhookEvent['type']>(type: T): Array<Extract<WebhookEvent, { type: T }>> {
    return this.events.filter((e): e is Extract<WebhookEvent, { type: T }> => e.type === type);
  }

  /** Stops listening and cuts every connection (a receiver that went down). */
  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    this.server = this.create();
    await this.listen(this.port);
  }

  private create(): Server {
    return createServer((req, res) => void this.handle(req, res));
  }

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
    );
    let event: WebhookEvent | undefined;
    try {
      event = this.verifier.verify(body, headers) as WebhookEvent;
    } catch {
      event = undefined;
    }
    const received: Received = {
      id: headers['webhook-id'],
      headers,
      body,
      event,
      at: Date.now(),
    };
    this.requests.push(received);
    const answer = event ? this.answer(received) : { status: 401 };
    if (answer === 'hang') {
      this.hanging.add(res);
      return;
    }
    received.accepted = answer.status >= 200 && answer.status < 300;
    res.writeHead(answer.status, answer.headers).end();
  }
}
