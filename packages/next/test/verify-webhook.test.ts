import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookEvent } from '@herald/protocol';
import { parseConfig } from '@herald/server';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookDispatcher } from '../../server/src/webhooks/dispatcher.ts';
import { WebhookSigner } from '../../server/src/webhooks/signer.ts';
import { webhookSecret } from '../../server/test/support/webhook-receiver.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import { verifyWebhook, WebhookVerificationError } from '../src/index.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of cleanup.splice(0)) await close();
});

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A request as a route handler gets it, signed by the hub's signer. */
function signedRequest(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Request {
  const headers = new WebhookSigner(secret).headers('msg_1', timestamp, body);
  return new Request('http://app.test/api/herald-events', { method: 'POST', headers, body });
}

const event = { type: 'channel.occupied', timestamp: new Date().toISOString(), data: { channel: 'chat:1' } };

describe('verifyWebhook', () => {
  it('returns the typed events a hub sends to a route handler', async () => {
    const secret = webhookSecret();
    const verified: WebhookEvent[] = [];
    // A route handler behind a real HTTP server, as Next.js runs it.
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const request = new Request(`http://127.0.0.1${req.url}`, {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body: Buffer.concat(chunks),
      });
      try {
        verified.push(await verifyWebhook(request, secret));
        res.writeHead(204).end();
      } catch (err) {
        res.writeHead(err instanceof WebhookVerificationError ? 401 : 500).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/herald-events`;
    const dispatcher = new WebhookDispatcher(parseConfig({ webhooks: [{ url, secret }] }).webhooks, silent);
    cleanup.push(() => dispatcher.close());
    dispatcher.emit(
      'presence.joined',
      { channel: 'room:1', member: { client: 'c1', user: 'ann', info: { name: 'Ann' } } },
      'c1',
    );
    await eventually(() => dispatcher.stats().sent === 1, 'the event accepted');
    const [first] = verified;
    expect(first.type).toBe('presence.joined');
    if (first.type === 'presence.joined')
      expect(first.data.member).toEqual({ client: 'c1', user: 'ann', info: { name: 'Ann' } });
  });

  it('throws WebhookVerificationError for a wrong secret, a changed body, a stale timestamp or a foreign event', async () => {
    const secret = webhookSecret();
    const body = JSON.stringify(event);
    await expect(verifyWebhook(signedRequest(secret, body), secret)).resolves.toEqual(event);
    await expect(verifyWebhook(signedRequest(webhookSecret(), body), secret)).rejects.toThrow(
      WebhookVerificationError,
    );
    const tampered = signedRequest(secret, body);
    const forged = new Request(tampered.url, {
      method: 'POST',
      headers: tampered.headers,
      body: body.replace('chat:1', 'chat:2'),
    });
    await expect(verifyWebhook(forged, secret)).rejects.toThrow(WebhookVerificationError);
    const stale = Math.floor(Date.now() / 1000) - 3600;
    await expect(verifyWebhook(signedRequest(secret, body, stale), secret)).rejects.toThrow(
      WebhookVerificationError,
    );
    const unsigned = new Request('http://app.test/', { method: 'POST', body });
    await expect(verifyWebhook(unsigned, secret)).rejects.toThrow(WebhookVerificationError);
    const foreign = JSON.stringify({ type: 'user.created', timestamp: event.timestamp, data: {} });
    await expect(verifyWebhook(signedRequest(secret, foreign), secret)).rejects.toThrow(
      'not a Herald webhook event',
    );
  });
});
