/**
 * The app's webhook endpoint for bench/webhooks-churn.ts, in a process of its own (as an app's backend
 * is): verifies every request with the `standardwebhooks` package, answers 503 to a share of them, and
 * records what it accepted with its latency. Env: WEBHOOK_SECRET, REFUSE (0-1). IPC: sends `{port}` once
 * listening; answers `report` with everything it recorded.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookEvent } from '@herald/protocol';
import { Webhook } from 'standardwebhooks';

export interface Accepted {
  id: string;
  event: WebhookEvent;
  /** Ms from the event's `timestamp` to its arrival here. */
  latency: number;
  /** Whether an earlier try of it was refused (503). */
  retried: boolean;
}

export interface ReceiverReport {
  requests: number;
  refused: number;
  invalid: number;
  accepted: Accepted[];
}

const verifier = new Webhook(process.env.WEBHOOK_SECRET as string);
const refuse = Number(process.env.REFUSE ?? '0');
const report: ReceiverReport = { requests: 0, refused: 0, invalid: 0, accepted: [] };
const refusedIds = new Set<string>();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    report.requests++;
    const body = Buffer.concat(chunks).toString();
    let event: WebhookEvent;
    try {
      event = verifier.verify(body, req.headers as Record<string, string>) as WebhookEvent;
    } catch {
      report.invalid++;
      res.writeHead(401).end();
      return;
    }
    const id = String(req.headers['webhook-id']);
    if (Math.random() < refuse) {
      refusedIds.add(id);
      report.refused++;
      res.writeHead(503).end();
      return;
    }
    const latency = Date.now() - Date.parse(event.timestamp);
    report.accepted.push({ id, event, latency, retried: refusedIds.has(id) });
    res.writeHead(204).end();
  });
});

server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('message', (message) => {
  if (message === 'report') process.send?.({ report });
});
process.on('disconnect', () => process.exit(0));
