import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebhookEvent } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import type { HeraldConfigInput } from '../src/config.ts';
import { hubPerTest } from './support/hub.ts';
import { freePort, runHerald, waitListening } from './support/process.ts';
import { RawSseStream } from './support/sse-client.ts';
import { SECRET, sign } from './support/tokens.ts';
import { WebhookReceiver, webhookSecret } from './support/webhook-receiver.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start();
  hubs.onCleanup(() => r.stop());
  return r;
}

function config(r: WebhookReceiver, extra: HeraldConfigInput = {}): HeraldConfigInput {
  return {
    tokenSecret: SECRET,
    webhooks: [{ url: r.url, secret: r.secret, retryDelayMs: 20 }],
    presence: { grace: 0 },
    ...extra,
  };
}

async function connect(
  wsUrl: string,
  user: string,
  info?: unknown,
): Promise<{ ws: WsTestClient; id: string }> {
  const ws = await WsTestClient.open(wsUrl);
  const result = await ws.call<{ client: string }>('connect', {
    token: await sign(info === undefined ? { sub: user } : { sub: user, info }),
  });
  return { ws, id: result.client };
}

/** The events about one client, in the order the receiver got them. */
function ofClient(events: WebhookEvent[], client: string): string[] {
  return events
    .filter((e) => {
      const data = e.data as { client?: string; member?: { client: string } };
      return data.client === client || data.member?.client === client;
    })
    .map((e) => e.type);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('lifecycle webhooks on one node', () => {
  it("sends a client's events in order, and the channel's occupied and vacated once", async () => {
    const r = await receiver();
    const hub = await hubs.start(config(r));
    const ann = await connect(hub.wsUrl, 'ann', { name: 'Ann' });
    await ann.ws.call('subscribe', { channel: 'room:1' });
    const bob = await connect(hub.wsUrl, 'bob');
    await bob.ws.call('subscribe', { channel: 'room:1' });
    await ann.ws.call('unsubscribe', { channel: 'room:1' });
    ann.ws.close();
    await ann.ws.closed;
    bob.ws.terminate();
    await eventually(() => r.of('channel.vacated').length === 1, 'the channel vacated');
    await eventually(() => r.of('client.disconnected').length === 2, 'both disconnected');

    // Each client's events in the order they happened, whatever the other client did meanwhile.
    const life = [
      'client.connected',
      'channel.subscribed',
      'presence.joined',
      'presence.left',
      'channel.unsubscribed',
      'client.disconnected',
    ];
    expect(ofClient(r.events, ann.id)).toEqual(life);
    expect(ofClient(r.events, bob.id)).toEqual(life);
    const channelEvents = r.events.filter(
      (e) => e.type.startsWith('channel.o') || e.type === 'channel.vacated',
    );
    expect(channelEvents.map((e) => [e.type, e.data])).toEqual([
      ['channel.occupied', { channel: 'room:1' }],
      ['channel.vacated', { channel: 'room:1' }],
    ]);
    const [connected] = r.of('client.connected');
    expect(connected.data).toMatchObject({ client: ann.id, user: 'ann', transport: 'websocket' });
    expect(connected.data.node).toEqual(expect.any(String));
    expect(r.of('presence.joined')[0].data).toEqual({
      channel: 'room:1',
      member: { client: ann.id, user: 'ann', info: { name: 'Ann' } },
    });
    const gone = r.of('client.disconnected').find((e) => e.data.client === ann.id)!;
    expect(gone.data).toMatchObject({ user: 'ann', code: expect.any(Number), reason: expect.any(String) });
    expect(gone.data.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.events.every((e) => !Number.isNaN(Date.parse(e.timestamp)))).toBe(true);
  });

  it('damps a flap within presence.grace: no left/joined or vacated/occupied pair', async () => {
    const r = await receiver();
    const hub = await hubs.start(config(r, { presence: { grace: 1 } }));
    const first = await connect(hub.wsUrl, 'ann');
    await first.ws.call('subscribe', { channel: 'room:1' });
    first.ws.terminate(); // a network blip
    await eventually(() => r.of('client.disconnected').length === 1, 'the first connection reported gone');
    const second = await connect(hub.wsUrl, 'ann');
    await second.ws.call('subscribe', { channel: 'room:1' });
    await sleep(2_000); // past the grace
    expect(r.of('client.connected').map((e) => e.data.client)).toEqual([first.id, second.id]);
    expect(r.of('presence.joined').map((e) => e.data.member.client)).toEqual([first.id]);
    expect(r.of('presence.left')).toEqual([]);
    expect(r.of('channel.occupied')).toHaveLength(1);
    expect(r.of('channel.vacated')).toEqual([]);

    // Gone for good: one leave (for the member that was reported), one vacancy, after the grace.
    second.ws.close();
    await eventually(() => r.of('channel.vacated').length === 1, 'vacated after the grace');
    expect(r.of('presence.left').map((e) => e.data.member)).toEqual([{ client: first.id, user: 'ann' }]);
    expect(r.of('presence.joined')).toHaveLength(1);
    expect(r.of('channel.occupied')).toHaveLength(1);
  });

  it('reports SSE clients, and a long-polling client once through its presence lease', async () => {
    const r = await receiver();
    const hub = await hubs.start(config(r, { presenceTtl: 1, presence: { grace: 0.5 } }));
    const token = await sign({ sub: 'sam' });
    const stream = await RawSseStream.open(`${hub.url}/connection/sse?channel=room:1&token=${token}`);
    await eventually(() => r.of('channel.subscribed').length === 1, 'the SSE subscription');
    expect(r.of('client.connected')[0].data).toMatchObject({ user: 'sam', transport: 'sse' });
    await stream.close();
    await eventually(() => r.of('client.disconnected').length === 1, 'the SSE client gone');

    const polled = await sign({ sub: 'pat' });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(
        `${hub.url}/connection/poll?channel=room:2&client=tab1&timeout=0&token=${polled}`,
      );
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    await eventually(
      () => r.of('presence.left').some((e) => e.data.channel === 'room:2'),
      'the lease ran out',
    );
    await eventually(() => r.of('channel.vacated').some((e) => e.data.channel === 'room:2'), 'vacated');
    // One of each for the client, however many polls: the grace covers the gaps between them.
    const room2 = r.events.filter((e) => (e.data as { channel?: string }).channel === 'room:2');
    expect(room2.map((e) => e.type).sort()).toEqual([
      'channel.occupied',
      'channel.vacated',
      'presence.joined',
      'presence.left',
    ]);
    expect(r.of('presence.joined').find((e) => e.data.channel === 'room:2')!.data.member.user).toBe('pat');
    // Polls are not connections of their own: no client.* pair per poll.
    expect(r.of('client.connected').map((e) => e.data.user)).toEqual(['sam']);
  });

  it("sends clients' publishes to endpoints that list publication, in their namespaces", async () => {
    const r = await receiver();
    const hub = await hubs.start({
      tokenSecret: SECRET,
      webhooks: [{ url: r.url, secret: r.secret, events: ['publication'], namespaces: ['chat'] }],
    });
    const ann = await connect(hub.wsUrl, 'ann');
    await ann.ws.call('publish', { channel: 'chat:1', data: { text: 'hi' } });
    await ann.ws.call('publish', { channel: 'news:1', data: { text: 'not this namespace' } });
    await hub.publish('chat:1', { text: 'the server, not a client' });
    await ann.ws.call('publish', { channel: 'chat:1', data: { text: 'again' }, event: 'edit' });
    await eventually(() => r.events.length === 2, 'two publications');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.events.map((e) => e.data)).toEqual([
      {
        channel: 'chat:1',
        epoch: expect.any(String),
        offset: 1,
        data: { text: 'hi' },
        client: ann.id,
        user: 'ann',
      },
      {
        channel: 'chat:1',
        epoch: expect.any(String),
        offset: 3,
        data: { text: 'again' },
        event: 'edit',
        client: ann.id,
        user: 'ann',
      },
    ]);
    ann.ws.close();
  });

  it('counts deliveries in /metrics and on /health', async () => {
    const r = await receiver();
    const hub = await hubs.start(config(r));
    const ann = await connect(hub.wsUrl, 'ann');
    await eventually(() => r.of('client.connected').length === 1, 'connected');
    await eventually(async () => {
      const health = await (await fetch(`${hub.url}/health`)).json();
      return health.webhooksSent === 1;
    }, 'the health counters');
    const health = await (await fetch(`${hub.url}/health`)).json();
    expect(health).toMatchObject({
      webhooksSent: 1,
      webhooksFailed: 0,
      webhooksRetried: 0,
      webhooksDropped: 0,
      webhooksQueued: 0,
    });
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^herald_webhooks_sent_total 1$/m);
    for (const name of ['failed', 'retried', 'dropped'])
      expect(metrics).toMatch(new RegExp(`^herald_webhooks_${name}_total 0$`, 'm'));
    expect(metrics).toMatch(/^herald_webhooks_queue_depth 0$/m);
    ann.ws.close();
  });

  it("a drained herald serve sends its clients' last events before it exits", async () => {
    const r = await receiver();
    const port = await freePort();
    const proc = runHerald(['serve', '--port', String(port)], {
      HERALD_WEBHOOK_URL: r.url,
      HERALD_WEBHOOK_SECRET: r.secret,
      HERALD_TOKEN_SECRET: SECRET,
    });
    hubs.onCleanup(() => proc.child.kill('SIGKILL'));
    await waitListening(proc);
    const ann = await connect(`ws://127.0.0.1:${port}/connection/websocket`, 'ann');
    await ann.ws.call('subscribe', { channel: 'room:1' });
    await eventually(() => r.of('presence.joined').length === 1, 'joined');
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    // Sent before exit: the disconnect (4000, shutdown), then the leave and vacancy the grace held back.
    expect(ofClient(r.events, ann.id)).toEqual([
      'client.connected',
      'channel.subscribed',
      'presence.joined',
      'channel.unsubscribed',
      'client.disconnected',
      'presence.left',
    ]);
    expect(r.of('client.disconnected')[0].data.code).toBe(4000);
    expect(r.of('channel.vacated')).toHaveLength(1);
  });

  it('refuses to start with a bad webhook URL or secret, naming the field', async () => {
    const bad = runHerald(['serve', '--port', '0'], {
      HERALD_WEBHOOK_URL: 'http://127.0.0.1:9/hooks',
      HERALD_WEBHOOK_SECRET: 'not-a-secret',
    });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain('HERALD_WEBHOOK_SECRET must be "whsec_" followed by base64');

    const half = runHerald(['serve', '--port', '0'], { HERALD_WEBHOOK_URL: 'http://127.0.0.1:9/hooks' });
    expect(await half.exited).toBe(1);
    expect(half.output()).toContain('HERALD_WEBHOOK_URL is set without HERALD_WEBHOOK_SECRET');

    const file = join(mkdtempSync(join(tmpdir(), 'herald-webhooks-')), 'herald.json');
    writeFileSync(
      file,
      JSON.stringify({ webhooks: [{ url: 'ftp://example.com/x', secret: webhookSecret() }] }),
    );
    const fromFile = runHerald(['serve', '--port', '0', '--config', file]);
    expect(await fromFile.exited).toBe(1);
    expect(fromFile.output()).toContain('webhooks.0.url: must be an http:// or https:// URL');

    writeFileSync(
      file,
      JSON.stringify({ webhooks: [{ url: 'https://example.com/x', secret: 'whsec_c2hvcnQ=' }] }),
    );
    const short = runHerald(['serve', '--port', '0', '--config', file]);
    expect(await short.exited).toBe(1);
    expect(short.output()).toContain('webhooks.0.secret: must hold 24 to 64 bytes');
  });
});
