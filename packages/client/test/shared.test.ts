import type { Publication } from '@herald/protocol';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { hubPerTest, type TestHub } from '../../server/test/support/hub.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import {
  type ClientOptions,
  type HeraldClient,
  indexedDbOutboxStore,
  type OutboxMessage,
} from '../src/index.ts';
import { clientPerTest, connected, expectExactlyOnce, waitForState } from './support/client.ts';
import { TestLockManager } from './support/locks.ts';

const hubs = hubPerTest();
const client = clientPerTest();

/** Clients standing in for the tabs of one browser: one lock manager, BroadcastChannels of one name. */
function browser(hub: TestHub) {
  const locks = new TestLockManager();
  const key = `test-${Math.random()}`;
  return (more: Partial<ClientOptions> = {}) =>
    client({ url: hub.url, share: { key, locks, BroadcastChannel }, ...more });
}

const wireSubscriptions = (hub: TestHub) =>
  [...hub.server.hub.sessions].flatMap((s) => [...s.subscriptions.values()].map((sub) => sub.channel)).sort();

function listen(tab: HeraldClient, channel: string): Publication[] {
  const pubs: Publication[] = [];
  tab.subscribe(channel, { onPublication: (p) => pubs.push(p) });
  return pubs;
}

describe('one connection shared by the tabs of a browser', () => {
  it('serves every tab over one connection, each publication once per tab', async () => {
    const hub = await hubs.start();
    const tab = browser(hub);
    const tabs = [tab(), tab(), tab()];
    await Promise.all(tabs.map((t) => waitForState(t, connected('websocket'))));
    expect(tabs.filter((t) => t.leading)).toHaveLength(1);
    const a = tabs.map((t) => listen(t, 'news'));
    const b = listen(tabs[2], 'sport');
    await eventually(() => wireSubscriptions(hub).join() === 'news,sport', 'union on the wire');
    await eventually(() => tabs.every((t) => t.position('news')) && !!tabs[2].position('sport'), 'live');
    expect(hub.server.hub.sessions.size).toBe(1);
    for (let i = 1; i <= 5; i++) {
      await hub.publish('news', i);
      await hub.publish('sport', i);
    }
    await eventually(() => a.every((l) => l.length === 5) && b.length === 5, 'delivered');
    for (const list of [...a, b]) expectExactlyOnce(list, 1, 5);
  });

  it('publishes, reads history and presence from a tab that does not hold the connection', async () => {
    const hub = await hubs.start();
    const tab = browser(hub);
    const leader = tab();
    await waitForState(leader, connected());
    const follower = tab();
    await waitForState(follower, connected());
    expect(follower.leading).toBe(false);
    const seen = listen(leader, 'chat:x');
    await eventually(() => leader.position('chat:x') !== undefined, 'subscribed');
    const result = await follower.publish('chat:x', 'from the other tab');
    expect(result.offset).toBe(1);
    await eventually(() => seen.length === 1, 'the leader tab sees it');
    expect((await follower.history('chat:x')).publications.map((p) => p.data)).toEqual([
      'from the other tab',
    ]);
    expect(await follower.presence('chat:x')).toHaveLength(1); // one connection: one member
  });

  it('hands the connection over when the leading tab closes, losing and doubling nothing', async () => {
    const hub = await hubs.start();
    const tab = browser(hub);
    const tabs = [tab(), tab(), tab()];
    await Promise.all(tabs.map((t) => waitForState(t, connected())));
    const lists = tabs.map((t) => listen(t, 'feed'));
    await eventually(() => tabs.every((t) => t.position('feed') !== undefined), 'subscribed');
    for (let i = 1; i <= 10; i++) await hub.publish('feed', i);
    await eventually(() => lists.every((l) => l.length === 10), 'first part');
    const leader = tabs.find((t) => t.leading)!;
    leader.close(); // the tab closes: its locks go, another tab takes over
    for (let i = 11; i <= 20; i++) await hub.publish('feed', i); // meanwhile
    const rest = tabs.filter((t) => t !== leader);
    await eventually(() => rest.some((t) => t.leading), 'a new leader');
    await Promise.all(rest.map((t) => waitForState(t, connected())));
    for (let i = 21; i <= 30; i++) await hub.publish('feed', i);
    await eventually(
      () => rest.every((t) => lists[tabs.indexOf(t)].length === 30),
      'all, after the hand-over',
    );
    for (const t of rest) expectExactlyOnce(lists[tabs.indexOf(t)], 1, 30);
    expect(hub.server.hub.sessions.size).toBe(1);
  });

  it('releases the subscriptions of a tab that closes', async () => {
    const hub = await hubs.start();
    const tab = browser(hub);
    const leader = tab();
    await waitForState(leader, connected());
    const other = tab();
    await waitForState(other, connected());
    listen(leader, 'kept');
    listen(other, 'only-the-other');
    listen(other, 'kept');
    await eventually(() => wireSubscriptions(hub).join() === 'kept,only-the-other', 'both on the wire');
    other.close();
    await eventually(() => wireSubscriptions(hub).join() === 'kept', 'released');
  });

  it('sends a message kept from a closed tab from exactly one of the tabs that open next', async () => {
    const hub = await hubs.start();
    const indexedDB = new IDBFactory();
    const store = () => indexedDbOutboxStore(hub.url, { name: 'shared-outbox', indexedDB });
    const locks = new TestLockManager();
    const share = { key: 'outbox-test', locks, BroadcastChannel };
    const old = client({ url: hub.url, share, outbox: { store: store() } });
    await waitForState(old, connected());
    old.disconnect(); // offline: the message stays in the outbox
    void old.publish('chat:y', 'kept', { id: 'k1' }).catch(() => undefined);
    await eventually(() => old.pending().length === 1, 'queued');
    await new Promise((r) => setTimeout(r, 50));
    old.close();

    const tabs = [0, 1, 2].map(() => client({ url: hub.url, share, outbox: { store: store() } }));
    const sent: OutboxMessage[] = [];
    for (const t of tabs) t.outbox.on('change', (m) => m.state === 'sent' && sent.push(m));
    await eventually(() => sent.length === 1, 'sent');
    await new Promise((r) => setTimeout(r, 100));
    expect(sent).toHaveLength(1);
    expect(tabs.map((t) => t.pending().length)).toEqual([0, 0, 0]);
    const history = await tabs[0].history('chat:y');
    expect(history.publications.map((p) => p.data)).toEqual(['kept']);
  });
});
