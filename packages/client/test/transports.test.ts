import type { Publication } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { hubPerTest } from '../../server/test/support/hub.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import type { ResetEvent, TransportName } from '../src/index.ts';
import { clientPerTest, connected, expectExactlyOnce, recordStates, waitForState } from './support/client.ts';
import { HttpProxy, type ProxyRules } from './support/http-proxy.ts';

const hubs = hubPerTest();
const client = clientPerTest();

async function proxied(rules: ProxyRules = {}) {
  const hub = await hubs.start();
  const proxy = await HttpProxy.start(hub.port, rules);
  hubs.onCleanup(() => proxy.close());
  return { hub, proxy };
}

for (const transport of ['sse', 'poll'] as TransportName[]) {
  describe(`client over ${transport}`, () => {
    it('subscribes, publishes through the outbox, reads history, and moves subscriptions', async () => {
      const hub = await hubs.start();
      const c = client({ url: hub.url, transports: [transport] });
      const a: Publication[] = [];
      const sub = c.subscribe('room:a', { onPublication: (p) => a.push(p) });
      await waitForState(c, connected(transport));
      await eventually(() => sub.status === 'subscribed', 'subscribed');
      const sent = await c.publish('room:a', 'mine');
      await hub.publish('room:a', 'theirs');
      await eventually(() => a.length === 2, 'both');
      expect(a.map((p) => p.data)).toEqual(['mine', 'theirs']);
      expect(sent.offset).toBe(1);
      expect((await c.history('room:a')).publications).toHaveLength(2);
      // A channel added and one dropped while connected.
      const b: Publication[] = [];
      const subB = c.subscribe('room:b', { onPublication: (p) => b.push(p) });
      await eventually(() => subB.status === 'subscribed', 'second channel');
      sub.unsubscribe();
      await eventually(() => c.position('room:a') === undefined, 'first channel released');
      await hub.publish('room:a', 'unheard');
      await hub.publish('room:b', 'heard');
      await eventually(() => b.length === 1, 'second channel delivers');
      expect(a).toHaveLength(2);
    });

    it('resumes across repeated cuts, each publication once and in order', async () => {
      const { hub, proxy } = await proxied();
      const c = client({ url: proxy.url, transports: [transport] });
      const states = recordStates(c);
      const connections = () => states.filter((s) => s.status === 'connected').length;
      const pubs: Publication[] = [];
      const resets: ResetEvent[] = [];
      c.subscribe('feed', { onPublication: (p) => pubs.push(p), onReset: (r) => resets.push(r) });
      await waitForState(c, connected(transport));
      await eventually(() => c.position('feed') !== undefined, 'positioned');
      for (let i = 1; i <= 40; i++) {
        await hub.publish('feed', i);
        if (i % 10 === 0) {
          const before = connections();
          proxy.cutAll();
          // A cut always ends an SSE stream; it ends a poll only if one is in flight.
          if (transport === 'sse') await eventually(() => connections() > before, 'reconnected');
          await waitForState(c, connected(transport));
        }
      }
      await eventually(() => pubs.length >= 40, 'all');
      expectExactlyOnce(pubs, 1, 40);
      expect(resets).toEqual([]);
      expect(connections()).toBeGreaterThanOrEqual(transport === 'sse' ? 5 : 2);
    });

    it('sends outbox messages once each across a hub restart', async () => {
      const first = await hubs.start();
      const broker = first.server.hub.broker;
      const c = client({ url: first.url, transports: [transport] });
      const pubs: Publication[] = [];
      c.subscribe('chat:r', { onPublication: (p) => pubs.push(p) });
      await waitForState(c, connected(transport));
      const sent = Array.from({ length: 12 }, (_, i) => c.publish('chat:r', i));
      await eventually(() => c.pending('chat:r').length <= 8, 'some sent');
      await first.close();
      await hubs.start({}, { port: first.port, broker });
      await Promise.all(sent);
      await eventually(() => pubs.length === 12, 'all delivered');
      expectExactlyOnce(pubs, 1, 12);
      expect(pubs.map((p) => p.data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    });

    it('reports recovered:false as a reset', async () => {
      const hub = await hubs.start({ namespaces: { '*': { historySize: 2 } } });
      const c = client({ url: hub.url, transports: [transport] });
      const pubs: Publication[] = [];
      const resets: ResetEvent[] = [];
      c.subscribe('ticks', { onPublication: (p) => pubs.push(p), onReset: (r) => resets.push(r) });
      await eventually(() => c.position('ticks') !== undefined, 'positioned');
      await hub.publish('ticks', 1);
      await eventually(() => pubs.length === 1, 'first');
      c.disconnect();
      for (let i = 2; i <= 6; i++) await hub.publish('ticks', i);
      c.connect();
      await eventually(() => resets.length === 1, 'reset');
      expect(resets[0]).toMatchObject({ reason: 'not_recovered', offset: 6 });
      await hub.publish('ticks', 7);
      await eventually(() => pubs.length === 2, 'live again');
      expect(pubs.map((p) => p.offset)).toEqual([1, 7]);
    });

    it('fails only the refused channel', async () => {
      const hub = await hubs.start({ namespaces: { '*': {}, secret: { subscribe: 'authenticated' } } });
      const c = client({ url: hub.url, transports: [transport] });
      const errors: string[] = [];
      const pubs: Publication[] = [];
      c.subscribe('secret:x', { onError: (e) => errors.push(e.code) });
      const open = c.subscribe('open', { onPublication: (p) => pubs.push(p) });
      await waitForState(c, connected(transport));
      await eventually(() => errors.length === 1, 'refused');
      expect(errors).toEqual(['forbidden']);
      await eventually(() => open.status === 'subscribed', 'the other channel subscribed');
      await hub.publish('open', 1);
      await eventually(() => pubs.length === 1, 'the other channel works');
    });
  });
}

describe('long-polling', () => {
  it('tells the client of a live channel the hub cannot continue between polls, and polls on calmly', async () => {
    const hub = await hubs.start({ namespaces: { '*': { historySize: 2 } } });
    let gate: Promise<void> | undefined;
    let polls = 0;
    const pubs: Publication[] = [];
    // Polls sent once the second publication is in wait at the gate while it is closed.
    const gated: typeof fetch = async (input, init) => {
      if (String(input).includes('/connection/poll')) {
        polls++;
        if (pubs.length >= 2) await gate;
      }
      return fetch(input, init);
    };
    const c = client({ url: hub.url, transports: ['poll'], fetch: gated });
    const resets: ResetEvent[] = [];
    c.subscribe('ticks', { onPublication: (p) => pubs.push(p), onReset: (r) => resets.push(r) });
    await eventually(() => c.position('ticks') !== undefined, 'positioned');
    await hub.publish('ticks', 1);
    await eventually(() => pubs.length === 1, 'first');
    let open = () => {};
    gate = new Promise((resolve) => {
      open = resolve;
    });
    await hub.publish('ticks', 2); // answers the poll in flight; the next one waits
    await eventually(() => pubs.length === 2, 'second');
    for (let i = 3; i <= 8; i++) await hub.publish('ticks', i); // history keeps only 7 and 8
    gate = undefined;
    open();
    await eventually(() => resets.length === 1, 'reset');
    expect(resets[0]).toMatchObject({ reason: 'not_recovered', offset: 8 });
    const before = polls;
    await hub.publish('ticks', 9);
    await eventually(() => pubs.length === 3, 'live again');
    expect(pubs.map((p) => p.offset)).toEqual([1, 2, 9]);
    // One poll answered by the publication, the next one held: a client still resuming from the lost
    // position would be answered at once, again and again.
    expect(polls - before).toBeLessThanOrEqual(2);
  });
});

describe('transport fallback', () => {
  it('falls back to SSE when a proxy refuses the WebSocket upgrade, and upgrades when it allows it again', async () => {
    const { hub, proxy } = await proxied({ refuseUpgrades: 403 });
    const c = client({ url: proxy.url, upgradeRetryDelay: 300 });
    const states = recordStates(c);
    const pubs: Publication[] = [];
    c.subscribe('news', { onPublication: (p) => pubs.push(p) });
    await waitForState(c, connected('sse'));
    await eventually(() => c.position('news') !== undefined, 'positioned');
    for (let i = 1; i <= 5; i++) await hub.publish('news', i);
    await eventually(() => pubs.length === 5, 'over SSE');
    await c.publish('news', 'sent over SSE');
    proxy.rules = {}; // the proxy is fixed: the client tries WebSocket again by itself
    await waitForState(c, connected('websocket'));
    for (let i = 7; i <= 10; i++) await hub.publish('news', i);
    await eventually(() => pubs.length === 10, 'over WebSocket');
    expectExactlyOnce(pubs, 1, 10);
    const tried = states
      .filter((s) => s.status === 'connecting')
      .map((s) => s.status === 'connecting' && s.transport);
    expect(tried.slice(0, 2)).toEqual(['websocket', 'sse']);
  });

  it('falls back to long-polling when the proxy also holds event streams back', async () => {
    const { hub, proxy } = await proxied({
      refuseUpgrades: 400,
      intercept: (path) => (path === '/connection/sse' ? 'hang' : undefined), // a buffering proxy
    });
    const c = client({ url: proxy.url, connectTimeout: 1000 });
    const pubs: Publication[] = [];
    c.subscribe('jobs:1', { onPublication: (p) => pubs.push(p) });
    await waitForState(c, connected('poll'));
    await eventually(() => c.position('jobs:1') !== undefined, 'positioned');
    for (let i = 1; i <= 5; i++) await hub.publish('jobs:1', { progress: i * 20 });
    const sent = await c.publish('jobs:1', 'from the client');
    await eventually(() => pubs.length === 6, 'over long-polling');
    expectExactlyOnce(pubs, 1, 6);
    expect(sent.offset).toBe(6);
  });

  it('resumes from the one position whatever the transport: WebSocket, then SSE, then long-polling, then WebSocket', async () => {
    const { hub, proxy } = await proxied();
    const c = client({
      url: proxy.url,
      connectTimeout: 1000,
      reconnectDelay: { min: 20, max: 100 },
      upgradeRetryDelay: 400,
    });
    const pubs: Publication[] = [];
    const resets: ResetEvent[] = [];
    const recovered: Array<boolean | undefined> = [];
    c.subscribe('feed', {
      onPublication: (p) => pubs.push(p),
      onReset: (r) => resets.push(r),
      onSubscribed: (e) => recovered.push(e.recovered),
    });
    let next = 1;
    /** Publishes `n` more, the first of them while the client is between transports. */
    const publish = async (n: number) => {
      for (const end = next + n; next < end; next++) await hub.publish('feed', next);
    };
    await waitForState(c, connected('websocket'));
    await eventually(() => c.position('feed') !== undefined, 'positioned');
    await publish(10);
    await eventually(() => pubs.length === 10, 'over WebSocket');

    proxy.rules = { refuseUpgrades: 400 };
    proxy.cutAll();
    await publish(5); // missed: the SSE stream resumes them from the position
    await waitForState(c, connected('sse'));
    await publish(5);
    await eventually(() => pubs.length === 20, 'over SSE');

    proxy.rules = {
      refuseUpgrades: 400,
      intercept: (path) => (path === '/connection/sse' ? 'hang' : undefined),
    };
    proxy.cutAll();
    await publish(5); // missed: the first poll's cursor resumes them
    await waitForState(c, connected('poll'));
    await publish(5);
    await eventually(() => pubs.length === 30, 'over long-polling');
    // A channel subscribed on the poll starts where the hub places it, and its next poll goes on from there.
    const late: Publication[] = [];
    const lateSubscribed: Array<boolean | undefined> = [];
    const lateSub = c.subscribe('late', {
      onPublication: (p) => late.push(p),
      onSubscribed: (e) => lateSubscribed.push(e.recovered),
    });
    await eventually(() => lateSub.status === 'subscribed', 'late channel subscribed');
    for (let i = 1; i <= 3; i++) await hub.publish('late', i);
    await eventually(() => late.length === 3, 'late channel over long-polling');
    expectExactlyOnce(late, 1, 3);
    // Subscribed once (a fresh channel beside resumed ones is reported not recovered), never renewed.
    expect(lateSubscribed).toEqual([false]);

    // The proxy lets WebSocket through again: the client's upgrade probe moves it back.
    await publish(5);
    proxy.rules = {};
    await waitForState(c, connected('websocket'));
    await publish(5);
    await eventually(() => pubs.length === 40, 'over WebSocket again');

    expectExactlyOnce(pubs, 1, 40);
    expect(resets).toEqual([]);
    // The first subscribe started live; every resubscribe after it recovered all it had missed.
    expect(recovered[0]).toBeUndefined();
    expect(recovered.slice(1)).toEqual([true, true, true]);
    expect(c.position('feed')).toMatchObject({ offset: 40 });
  });

  it('goes on with the next transport when an endpoint is missing (404 from the proxy)', async () => {
    const { hub, proxy } = await proxied({
      refuseUpgrades: 404,
      intercept: (path) => (path === '/connection/sse' ? 404 : undefined),
    });
    const c = client({ url: proxy.url });
    const pubs: Publication[] = [];
    c.subscribe('x', { onPublication: (p) => pubs.push(p) });
    await waitForState(c, connected('poll'));
    await eventually(() => c.position('x') !== undefined, 'positioned');
    await hub.publish('x', 1);
    await eventually(() => pubs.length === 1, 'delivered');
  });
});
