import type { Publication } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { hubPerTest } from '../../server/test/support/hub.ts';
import { TcpProxy } from '../../server/test/support/tcp-proxy.ts';
import { inSeconds, SECRET, sign } from '../../server/test/support/tokens.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import type { ResetEvent } from '../src/index.ts';
import { clientPerTest, connected, expectExactlyOnce, recordStates, waitForState } from './support/client.ts';

const hubs = hubPerTest();
const client = clientPerTest();

describe('client over WebSocket', () => {
  it('connects, subscribes and receives publications in order', async () => {
    const hub = await hubs.start();
    const c = client({ url: hub.url });
    const states = recordStates(c);
    const pubs: Publication[] = [];
    const sub = c.subscribe('chat:room', { onPublication: (p) => pubs.push(p) });
    await waitForState(c, connected('websocket'));
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    for (let i = 1; i <= 5; i++) await hub.publish('chat:room', { n: i });
    await eventually(() => pubs.length === 5, 'five publications');
    expect(pubs.map((p) => p.data)).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
    expect(states.map((s) => s.status).slice(0, 2)).toEqual(['connecting', 'connected']);
    sub.unsubscribe();
    await eventually(() => hub.server.hub.getStats().channels === 0, 'wire unsubscribe');
  });

  it('resumes every subscription across repeated network cuts, each publication once and in order', async () => {
    const hub = await hubs.start();
    const proxy = await TcpProxy.start(hub.port);
    hubs.onCleanup(() => proxy.close());
    const c = client({ url: `http://127.0.0.1:${proxy.port}` });
    const a: Publication[] = [];
    const b: Publication[] = [];
    const resets: ResetEvent[] = [];
    const subs = [
      c.subscribe('feed:a', { onPublication: (p) => a.push(p), onReset: (r) => resets.push(r) }),
      c.subscribe('feed:b', { onPublication: (p) => b.push(p), onReset: (r) => resets.push(r) }),
    ];
    await eventually(() => subs.every((s) => s.status === 'subscribed'), 'both subscribed');
    let cuts = 0;
    for (let i = 1; i <= 60; i++) {
      await hub.publish('feed:a', i);
      await hub.publish('feed:b', i);
      if (i % 12 === 0) {
        cuts += proxy.cutAll();
        await waitForState(c, connected());
      }
    }
    await eventually(() => a.length >= 60 && b.length >= 60, 'all publications');
    expect(cuts).toBeGreaterThanOrEqual(5);
    expectExactlyOnce(a, 1, 60);
    expectExactlyOnce(b, 1, 60);
    expect(resets).toEqual([]);
  });

  it('resumes after the hub restarts on the same port with its broker', async () => {
    const first = await hubs.start();
    const broker = first.server.hub.broker;
    const c = client({ url: first.url });
    const states = recordStates(c);
    const pubs: Publication[] = [];
    const sub = c.subscribe('news', { onPublication: (p) => pubs.push(p) });
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    await first.publish('news', 1);
    await eventually(() => pubs.length === 1, 'first');
    await first.close(); // graceful: the client is told 4000 and reconnects with backoff
    expect(states.find((s) => s.status === 'disconnected')).toMatchObject({ code: 4000, reconnect: true });
    // What is published while the client is away comes from history on resume.
    const second = await hubs.start({}, { port: first.port, broker });
    await second.publish('news', 2);
    await second.publish('news', 3);
    await waitForState(c, connected());
    await eventually(() => pubs.length === 3, 'resumed');
    expectExactlyOnce(pubs, 1, 3);
  });

  it('reports recovered:false as a reset when history no longer covers the gap', async () => {
    const hub = await hubs.start({ namespaces: { '*': { historySize: 3 } } });
    const c = client({ url: hub.url });
    const pubs: Publication[] = [];
    const resets: ResetEvent[] = [];
    const sub = c.subscribe('ticks', { onPublication: (p) => pubs.push(p), onReset: (r) => resets.push(r) });
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    await hub.publish('ticks', 1);
    await eventually(() => pubs.length === 1, 'first');
    c.disconnect();
    for (let i = 2; i <= 10; i++) await hub.publish('ticks', i);
    c.connect();
    await eventually(() => resets.length === 1, 'reset');
    expect(resets[0]).toMatchObject({ reason: 'not_recovered', offset: 10 });
    await hub.publish('ticks', 11);
    await eventually(() => pubs.length === 2, 'live again');
    expect(pubs.map((p) => p.offset)).toEqual([1, 11]);
  });

  it('reports a new epoch (the hub lost its streams) as a reset', async () => {
    const first = await hubs.start();
    const c = client({ url: first.url });
    const resets: ResetEvent[] = [];
    const pubs: Publication[] = [];
    const sub = c.subscribe('jobs', { onPublication: (p) => pubs.push(p), onReset: (r) => resets.push(r) });
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    await first.publish('jobs', 'a');
    await eventually(() => pubs.length === 1, 'first');
    await first.close();
    const second = await hubs.start({}, { port: first.port }); // a fresh memory broker: a new epoch
    await eventually(() => resets.length === 1, 'reset after reconnect');
    await second.publish('jobs', 'b');
    await eventually(() => pubs.length === 2, 'publication of the new epoch');
    expect(resets[0].reason).toBe('not_recovered');
    expect(pubs[1]).toMatchObject({ data: 'b', offset: 1, epoch: resets[0].epoch });
  });

  it('detects a silent hub by its missing heartbeats and reconnects', async () => {
    const hub = await hubs.start({ pingInterval: 0.2 });
    const proxy = await TcpProxy.start(hub.port);
    hubs.onCleanup(() => proxy.close());
    const c = client({ url: `http://127.0.0.1:${proxy.port}` });
    const pubs: Publication[] = [];
    const sub = c.subscribe('status', { onPublication: (p) => pubs.push(p) });
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    // Answers pings all along: the hub keeps the connection while the client stays quiet for a while.
    await new Promise((r) => setTimeout(r, 600));
    expect(c.state.status).toBe('connected');
    proxy.stallAll(); // the path goes silent without closing
    await hub.publish('status', 'during the stall');
    const down = await waitForState(c, (s) => s.status === 'disconnected');
    expect(down).toMatchObject({ code: 4002, reconnect: true });
    await waitForState(c, connected());
    await eventually(() => pubs.length === 1, 'resumed after the stall');
    expect(pubs[0].data).toBe('during the stall');
  });

  it('does not reconnect after a 4500+ close, and says why', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const token = await sign({ sub: 'ann' });
    const c = client({ url: hub.url, token });
    await waitForState(c, connected());
    const res = await fetch(`${hub.url}/api/disconnect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'ann' }),
    });
    expect(res.ok).toBe(true);
    const state = await waitForState(c, (s) => s.status === 'disconnected');
    expect(state).toMatchObject({ code: 4504, reconnect: false });
    await new Promise((r) => setTimeout(r, 300));
    expect(c.state.status).toBe('disconnected');
    expect(hub.server.hub.getStats().sessions).toBe(0);
  });

  it('refreshes the token before it expires without dropping the connection or its subscriptions', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, tokenExpiryGrace: 1 });
    let issued = 0;
    const c = client({
      url: hub.url,
      getToken: () => {
        issued++;
        return sign({ sub: 'bob', exp: inSeconds(2) });
      },
    });
    const states = recordStates(c);
    const pubs: Publication[] = [];
    const sub = c.subscribe('ticker', { onPublication: (p) => pubs.push(p) });
    await waitForState(c, connected());
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    for (let i = 1; i <= 4; i++) {
      await new Promise((r) => setTimeout(r, 900));
      await hub.publish('ticker', i);
    }
    await eventually(() => pubs.length === 4, 'publications across token lifetimes');
    expect(issued).toBeGreaterThanOrEqual(3);
    expect(states.filter((s) => s.status === 'connected')).toHaveLength(1);
    expectExactlyOnce(pubs, 1, 4);
  });

  it('reconnects with a fresh token when the hub closes an expired connection (4004)', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, tokenExpiryGrace: 0 });
    let issued = 0;
    const c = client({
      url: hub.url,
      // The first token expires at once and the token endpoint is slow to give the next: the hub closes
      // the connection with 4004 before the refresh can happen.
      getToken: async () => {
        const n = ++issued;
        if (n === 2) await new Promise((r) => setTimeout(r, 2500));
        return sign({ sub: 'cy', exp: inSeconds(n === 1 ? 1 : 60) });
      },
    });
    const states = recordStates(c);
    const pubs: Publication[] = [];
    const sub = c.subscribe('room', { onPublication: (p) => pubs.push(p) });
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    await hub.publish('room', 1);
    await eventually(() => states.some((s) => s.status === 'disconnected' && s.code === 4004), '4004');
    await hub.publish('room', 2);
    await waitForState(c, connected());
    await eventually(() => pubs.length === 2, 'resumed');
    expectExactlyOnce(pubs, 1, 2);
  });
});
