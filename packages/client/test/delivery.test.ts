import type { Publication, ServerFrame } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { hubPerTest } from '../../server/test/support/hub.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import type { HeraldClientError, ResetEvent } from '../src/index.ts';
import { clientPerTest, expectExactlyOnce, tamperedWebSocket } from './support/client.ts';

const hubs = hubPerTest();
const client = clientPerTest();

const isPub = (frame: ServerFrame, channel: string): frame is ServerFrame & Publication =>
  'type' in frame && frame.type === 'pub' && frame.channel === channel;

describe('delivery on a channel', () => {
  it('heals a gap (offsets missing on the path) from history, in order', async () => {
    const hub = await hubs.start();
    const lost = new Set([3, 4, 7]);
    const transport = tamperedWebSocket((frame, deliver) => {
      if (isPub(frame, 'log') && lost.has(frame.offset)) return;
      deliver(frame);
    });
    const c = client({ url: hub.url, transports: [transport] });
    const pubs: Publication[] = [];
    const resets: ResetEvent[] = [];
    const sub = c.subscribe('log', { onPublication: (p) => pubs.push(p), onReset: (r) => resets.push(r) });
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    for (let i = 1; i <= 9; i++) await hub.publish('log', `line ${i}`);
    await eventually(() => pubs.length === 9, 'healed');
    expectExactlyOnce(pubs, 1, 9);
    expect(pubs.map((p) => p.data)).toEqual(Array.from({ length: 9 }, (_, i) => `line ${i + 1}`));
    expect(resets).toEqual([]);
  });

  it('reports a gap that history no longer covers as a reset and goes on', async () => {
    const hub = await hubs.start({ namespaces: { '*': { historySize: 2 } } });
    const transport = tamperedWebSocket((frame, deliver) => {
      if (isPub(frame, 'metrics') && frame.offset >= 2 && frame.offset <= 5) return;
      deliver(frame);
    });
    const c = client({ url: hub.url, transports: [transport] });
    const pubs: Publication[] = [];
    const resets: ResetEvent[] = [];
    const sub = c.subscribe('metrics', {
      onPublication: (p) => pubs.push(p),
      onReset: (r) => resets.push(r),
    });
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    for (let i = 1; i <= 7; i++) await hub.publish('metrics', i);
    await eventually(() => pubs.length === 3, 'reset, then on');
    expect(resets).toMatchObject([{ reason: 'not_recovered', offset: 5 }]);
    expect(pubs.map((p) => p.offset)).toEqual([1, 6, 7]);
  });

  it('drops publications it has already delivered', async () => {
    const hub = await hubs.start();
    const transport = tamperedWebSocket((frame, deliver) => {
      deliver(frame);
      if (isPub(frame, 'dup')) deliver(frame);
    });
    const c = client({ url: hub.url, transports: [transport] });
    const pubs: Publication[] = [];
    const sub = c.subscribe('dup', { onPublication: (p) => pubs.push(p) });
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    for (let i = 1; i <= 5; i++) await hub.publish('dup', i);
    await eventually(() => pubs.length >= 5, 'five');
    await hub.publish('dup', 6);
    await eventually(() => pubs.length >= 6, 'six');
    expectExactlyOnce(pubs, 1, 6);
  });

  it('serves many subscribers of a channel with one wire subscription, each getting every publication', async () => {
    const hub = await hubs.start();
    const c = client({ url: hub.url });
    const seen: Publication[][] = [[], [], []];
    const subs = seen.map((list) => c.subscribe('shared', { onPublication: (p) => list.push(p) }));
    await eventually(() => subs.every((s) => s.status === 'subscribed'), 'subscribed');
    expect(hub.server.hub.getStats().channels).toBe(1);
    await hub.publish('shared', 'x');
    await eventually(() => seen.every((l) => l.length === 1), 'all three');
    subs[0].unsubscribe();
    await hub.publish('shared', 'y');
    await eventually(() => seen[1].length === 2 && seen[2].length === 2, 'the other two');
    expect(seen[0]).toHaveLength(1);
    subs[1].unsubscribe();
    subs[2].unsubscribe();
    await eventually(() => hub.server.hub.getStats().channels === 0, 'released on the wire');
  });

  it('settles fast subscribe/unsubscribe churn to exactly what is wanted, without errors', async () => {
    const hub = await hubs.start();
    const c = client({ url: hub.url });
    const errors: HeraldClientError[] = [];
    const pubs: Publication[] = [];
    // Like StrictMode's mount, unmount, mount, and a user clicking through rooms.
    for (let i = 0; i < 20; i++) {
      const room = `room:${i % 3}`;
      const s = c.subscribe(room, { onError: (e) => errors.push(e) });
      s.unsubscribe();
      await new Promise((r) => setTimeout(r, i % 4));
    }
    const last = c.subscribe('room:1', {
      onPublication: (p) => pubs.push(p),
      onError: (e) => errors.push(e),
    });
    // A fresh subscription starts where the stream is when it is positioned: publish after that.
    await eventually(() => last.status === 'subscribed', 'subscribed');
    await eventually(() => hub.server.hub.getStats().channels === 1, 'one channel left on the wire');
    await hub.publish('room:1', 'hello');
    await eventually(() => pubs.length === 1, 'delivered');
    expect(errors).toEqual([]);
    expect([...hub.server.hub.sessions][0].subscriptions.size).toBe(1);
  });

  it('reports a refused subscription to its subscriber and keeps the others', async () => {
    const hub = await hubs.start({ namespaces: { '*': {}, secret: { subscribe: 'authenticated' } } });
    const c = client({ url: hub.url });
    const errors: HeraldClientError[] = [];
    const pubs: Publication[] = [];
    const refused = c.subscribe('secret:x', { onError: (e) => errors.push(e) });
    const open = c.subscribe('open', { onPublication: (p) => pubs.push(p) });
    await eventually(() => errors.length === 1, 'refused');
    expect(errors[0].code).toBe('forbidden');
    expect(refused.status).toBe('failed');
    await eventually(() => open.status === 'subscribed', 'the other channel subscribed');
    await hub.publish('open', 1);
    await eventually(() => pubs.length === 1, 'the other channel works');
  });

  it('resumes from a stored position given to subscribe', async () => {
    const hub = await hubs.start();
    for (let i = 1; i <= 5; i++) await hub.publish('stored', i);
    const first = await hub.publish('stored', 6);
    const c = client({ url: hub.url });
    const pubs: Publication[] = [];
    c.subscribe('stored', { since: { epoch: first.epoch, offset: 3 }, onPublication: (p) => pubs.push(p) });
    await eventually(() => pubs.length === 3, 'missed ones');
    expectExactlyOnce(pubs, 4, 6);
  });

  it('gives a subscriber that joins a channel behind its `since` only what follows it', async () => {
    const hub = await hubs.start();
    const { epoch } = await hub.publish('joined', 1);
    const c = client({ url: hub.url });
    const a: Publication[] = [];
    const b: Publication[] = [];
    const early: Publication[] = [];
    c.subscribe('joined', { since: { epoch, offset: 0 }, onPublication: (p) => a.push(p) });
    // Joins before the channel's first result: it has read up to 1 elsewhere (history).
    c.subscribe('joined', { since: { epoch, offset: 1 }, onPublication: (p) => early.push(p) });
    await eventually(() => a.length === 1, 'the first subscriber resumed');
    c.disconnect();
    for (let i = 2; i <= 4; i++) await hub.publish('joined', i);
    // The channel stands at 1; this subscriber has read up to 3 elsewhere.
    c.subscribe('joined', { since: { epoch, offset: 3 }, onPublication: (p) => b.push(p) });
    c.connect();
    await eventually(() => a.length === 4, 'the channel resumed');
    await hub.publish('joined', 5);
    await eventually(() => a.length === 5, 'live');
    expectExactlyOnce(a, 1, 5);
    expectExactlyOnce(early, 2, 5);
    expectExactlyOnce(b, 4, 5);
  });

  it('reads history and presence', async () => {
    const hub = await hubs.start();
    const c = client({ url: hub.url });
    const sub = c.subscribe('lobby');
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    await hub.publish('lobby', 'a');
    await hub.publish('lobby', 'b');
    const history = await c.history('lobby', { limit: 10 });
    expect(history.publications.map((p) => p.data)).toEqual(['a', 'b']);
    const members = await c.presence('lobby');
    expect(members).toHaveLength(1);
    expect(members[0].client).toBe(c.state.status === 'connected' ? c.state.client : '');
  });
});
