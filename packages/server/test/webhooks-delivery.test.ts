import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, type WebhookEndpoint } from '../src/config.ts';
import { WebhookDispatcher } from '../src/webhooks/dispatcher.ts';
import { WebhookReceiver, webhookSecret } from './support/webhook-receiver.ts';
import { eventually } from './support/ws-client.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start();
  cleanup.push(() => r.stop());
  return r;
}

function dispatcher(...endpoints: Array<Partial<WebhookEndpoint> & { url: string; secret: string }>) {
  const config = parseConfig({ webhooks: endpoints });
  const d = new WebhookDispatcher(config.webhooks, { debug() {}, info() {}, warn() {}, error() {} });
  cleanup.push(() => d.close());
  return d;
}

const connected = (client: string) => ({ client, user: 'u1', transport: 'websocket', node: 'n1' });

describe('webhook delivery', () => {
  it('signs every request so that the standardwebhooks package verifies it', async () => {
    const r = await receiver();
    const d = dispatcher({ url: r.url, secret: r.secret });
    d.emit('client.connected', connected('c1'), 'c1');
    await eventually(() => d.stats().sent === 1, 'one event sent');
    const [request] = r.requests;
    expect(request.event).toMatchObject({ type: 'client.connected', data: connected('c1') });
    expect(new Date(request.event!.timestamp).toISOString()).toBe(request.event!.timestamp);
    expect(request.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(request.headers['content-type']).toBe('application/json');
    // The official library refuses it with another secret, or with the body changed.
    expect(() => new Webhook(webhookSecret()).verify(request.body, request.headers)).toThrow();
    expect(() => new Webhook(r.secret).verify(request.body.replace('c1', 'c2'), request.headers)).toThrow();
    expect(d.stats()).toEqual({ sent: 1, failed: 0, retried: 0, dropped: 0, queued: 0 });
  });

  it('retries a 503 with the same webhook-id until the receiver takes it', async () => {
    const r = await receiver();
    let refusals = 2;
    r.answer = () => (refusals-- > 0 ? { status: 503 } : { status: 200 });
    const d = dispatcher({ url: r.url, secret: r.secret, retryDelayMs: 10 });
    d.emit('channel.occupied', { channel: 'chat:1' }, 'chat:1');
    await eventually(() => d.stats().sent === 1, 'the event after two refusals');
    expect(r.requests.map((q) => q.accepted)).toEqual([false, false, true]);
    expect(new Set(r.requests.map((q) => q.id)).size).toBe(1);
    expect(d.stats()).toMatchObject({ sent: 1, retried: 2, failed: 0, queued: 0 });
  });

  it('retries 408, 429 and network errors; gives up at once on other 4xx', async () => {
    const r = await receiver();
    const statuses = new Map<string, number[]>([
      ['408', [408, 200]],
      ['429', [429, 200]],
      ['400', [400, 200]],
      ['410', [410, 200]],
    ]);
    r.answer = (q) => ({ status: statuses.get(JSON.parse(q.body).data.channel)!.shift()! });
    const d = dispatcher({ url: r.url, secret: r.secret, retryDelayMs: 10 });
    for (const channel of statuses.keys()) d.emit('channel.occupied', { channel }, channel);
    await eventually(() => d.stats().queued === 0, 'every event settled');
    expect(r.events.map((e) => (e.data as { channel: string }).channel).sort()).toEqual(['408', '429']);
    expect(d.stats()).toMatchObject({ sent: 2, retried: 2, failed: 2 });
    expect(r.requests).toHaveLength(6);
  });

  it("waits as long as a 429's Retry-After says", async () => {
    const r = await receiver();
    let first = true;
    r.answer = () => {
      if (!first) return { status: 200 };
      first = false;
      return { status: 429, headers: { 'retry-after': '1' } };
    };
    const d = dispatcher({ url: r.url, secret: r.secret, retryDelayMs: 1 });
    d.emit('channel.occupied', { channel: 'a' }, 'a');
    await eventually(() => r.events.length === 1, 'the retry');
    expect(r.requests[1].at - r.requests[0].at).toBeGreaterThanOrEqual(950);
  });

  it('gives up after maxAttempts and counts the event as failed', async () => {
    const r = await receiver();
    r.answer = () => ({ status: 500 });
    const d = dispatcher({ url: r.url, secret: r.secret, retryDelayMs: 1, maxAttempts: 3 });
    d.emit('channel.vacated', { channel: 'a' }, 'a');
    await eventually(() => d.stats().failed === 1, 'given up');
    expect(r.requests).toHaveLength(3);
    expect(d.stats()).toMatchObject({ sent: 0, retried: 2, failed: 1, queued: 0 });
  });

  it('delivers everything to a receiver that was down for 30 s, in order per client', async () => {
    const r = await receiver();
    await r.stop();
    const d = dispatcher({
      url: r.url,
      secret: r.secret,
      retryDelayMs: 100,
      maxRetryDelayMs: 2_000,
      maxAttempts: 100,
      concurrency: 4,
    });
    const clients = Array.from({ length: 20 }, (_, i) => `c${i}`);
    for (const client of clients) d.emit('client.connected', connected(client), client);
    for (const client of clients)
      d.emit('channel.subscribed', { channel: 'room:1', client, user: 'u1' }, client);
    for (const client of clients)
      d.emit('client.disconnected', { client, user: 'u1', code: 1000, reason: 'bye', durationMs: 5 }, client);
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    expect(d.stats().queued).toBe(60);
    expect(d.stats().retried).toBeGreaterThan(0);
    await r.restart();
    await eventually(() => d.stats().sent === 60, 'all 60 events after the receiver is back', 15_000);
    for (const client of clients) {
      const types = r.events
        .filter((e) => (e.data as { client: string }).client === client)
        .map((e) => e.type);
      expect(types).toEqual(['client.connected', 'channel.subscribed', 'client.disconnected']);
    }
    expect(d.stats()).toMatchObject({ sent: 60, failed: 0, dropped: 0, queued: 0 });
  }, 60_000);

  it('keeps at most queueSize events, counting the rest as dropped', async () => {
    const r = await receiver();
    r.answer = () => 'hang';
    const d = dispatcher({ url: r.url, secret: r.secret, queueSize: 100, concurrency: 2, timeoutMs: 60_000 });
    const data = { channel: 'big', epoch: 'e', offset: 1, data: 'x'.repeat(1000), client: 'c', user: null };
    for (let i = 0; i < 20_000; i++) d.emit('channel.occupied', { channel: `ch${i}` }, `ch${i}`);
    expect(d.stats()).toMatchObject({ queued: 100, dropped: 19_900 });
    // Memory is bounded by the queue: a further 100,000 events (with 1 kB each) add nothing.
    for (let i = 0; i < 100_000; i++) d.emit('publication', data, `p${i}`);
    expect(d.stats()).toMatchObject({ queued: 100, dropped: 19_900 });
    await eventually(() => r.requests.length === 2, 'two requests in flight');
    expect(r.requests).toHaveLength(2);
  });

  it('has at most `concurrency` requests in flight, one per key at a time', async () => {
    const r = await receiver();
    r.answer = () => 'hang';
    const d = dispatcher({ url: r.url, secret: r.secret, concurrency: 3, timeoutMs: 60_000 });
    for (let i = 0; i < 10; i++) d.emit('channel.occupied', { channel: `k${i % 2}-${i}` }, `k${i % 2}`);
    for (let i = 0; i < 4; i++) d.emit('channel.occupied', { channel: `other${i}` }, `other${i}`);
    await eventually(() => r.requests.length === 3, 'three requests');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.requests).toHaveLength(3);
    // The first of k0, the first of k1 and one other key: never two of one key at once.
    const keys = r.requests.map((q) => JSON.parse(q.body).data.channel.split('-')[0]);
    expect(new Set(keys).size).toBe(3);
  });

  it('sends an endpoint only the events and namespaces it lists; publication only when listed', async () => {
    const all = await receiver();
    const chat = await receiver();
    const d = dispatcher(
      { url: all.url, secret: all.secret },
      {
        url: chat.url,
        secret: chat.secret,
        events: ['channel.occupied', 'publication'],
        namespaces: ['chat'],
      },
    );
    d.emit('channel.occupied', { channel: 'chat:1' }, 'a');
    d.emit('channel.occupied', { channel: 'news:1' }, 'b');
    d.emit('client.connected', connected('c1'), 'c1');
    const pub = { channel: 'chat:1', epoch: 'e', offset: 1, data: { text: 'hi' }, client: 'c1', user: 'u1' };
    d.emit('publication', pub, 'c1');
    await eventually(() => all.events.length === 3 && chat.events.length === 2, 'both receivers');
    expect(all.events.map((e) => e.type).sort()).toEqual([
      'channel.occupied',
      'channel.occupied',
      'client.connected',
    ]);
    expect(chat.events.map((e) => e.type).sort()).toEqual(['channel.occupied', 'publication']);
    expect(chat.of('channel.occupied')[0].data).toEqual({ channel: 'chat:1' });
    // One event, one id, whichever endpoint gets it.
    const id = (q: { body: string; id: string }[]) =>
      q.find((x) => x.body.includes('"chat:1"') && x.body.includes('occupied'))!.id;
    expect(id(all.requests)).toBe(id(chat.requests));
  });

  it('drains what is queued, and stops at the timeout counting what is left as dropped', async () => {
    const r = await receiver();
    const d = dispatcher({ url: r.url, secret: r.secret });
    for (let i = 0; i < 50; i++) d.emit('channel.occupied', { channel: `c${i}` }, `c${i}`);
    await d.drain(5_000);
    expect(r.events).toHaveLength(50);

    const stuck = await receiver();
    stuck.answer = () => 'hang';
    const d2 = dispatcher({ url: stuck.url, secret: stuck.secret, timeoutMs: 60_000 });
    for (let i = 0; i < 5; i++) d2.emit('channel.occupied', { channel: `c${i}` }, `c${i}`);
    // Bounded by the drain's timeout, not the requests' (60 s, the test's own limit).
    await d2.drain(300);
    expect(d2.stats()).toMatchObject({ dropped: 5, queued: 0 });
  });
});
