// The default outbox store is IndexedDB wherever it exists: this file gives the process one.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { hubPerTest, type TestHub } from '../../server/test/support/hub.ts';
import { inSeconds, SECRET, sign } from '../../server/test/support/tokens.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import { identityOf, tokenSubject } from '../src/identity.ts';
import type { ClientOptions, OutboxMessage } from '../src/index.ts';
import { clientPerTest, connected, waitForState } from './support/client.ts';
import { TestLockManager } from './support/locks.ts';

const hubs = hubPerTest();
const client = clientPerTest();

/** Tabs of one browser: one lock manager and BroadcastChannels, the default (per-user) share key. */
function browser(hub: TestHub) {
  const share = { locks: new TestLockManager(), BroadcastChannel };
  return (more: Partial<ClientOptions>) =>
    client({ url: hub.url, share, outbox: { store: undefined }, ...more });
}

describe('what a browser keeps is kept per user', () => {
  it('reads the subject of a token, and fetches the first token once for both uses', async () => {
    const token = await sign({ sub: 'ann', exp: inSeconds(60) });
    expect(tokenSubject(token)).toBe('ann');
    expect(tokenSubject('not a jwt')).toBeUndefined();
    expect(tokenSubject(undefined)).toBeUndefined();
    let calls = 0;
    const { identity, getToken } = identityOf({ getToken: () => (++calls === 1 ? token : 'second') });
    expect(await identity).toBe('ann');
    expect(await getToken!()).toBe(token); // the connection gets the token the identity was read from
    expect(await getToken!()).toBe('second');
    expect(calls).toBe(2);
  });

  it('shares a connection between tabs of one user, never between users', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const tab = browser(hub);
    const token = (sub: string) => () => sign({ sub, exp: inSeconds(600) });
    const tabs = [
      tab({ getToken: token('ann') }),
      tab({ getToken: token('ann') }),
      tab({ getToken: token('bob') }),
      tab({}), // signed out
    ];
    await Promise.all(tabs.map((t) => waitForState(t, connected())));
    await eventually(() => hub.server.hub.sessions.size === 3, 'one connection per user');
    const users = [...hub.server.hub.sessions].map((s) => s.identity.user).sort();
    expect(users).toEqual(['ann', 'bob', null].sort());
    expect(tabs.map((t) => t.state.status === 'connected' && t.state.user)).toEqual([
      'ann',
      'ann',
      'bob',
      null,
    ]);
  });

  it("sends a kept message from the same user's next page only", async () => {
    const first = await hubs.start({ tokenSecret: SECRET });
    const broker = first.server.hub.broker;
    const tab = browser(first);
    const as = (sub: string) => ({ getToken: () => sign({ sub, exp: inSeconds(600) }) });
    const ann = tab(as('ann'));
    await waitForState(ann, connected());
    await first.close();
    void ann.publish('note', 'from ann', { id: 'ann-1' }).catch(() => undefined);
    await eventually(() => ann.pending().length === 1, 'kept');
    await new Promise((r) => setTimeout(r, 50));
    ann.close();

    const second = await hubs.start({ tokenSecret: SECRET }, { port: first.port, broker });
    const bob = tab(as('bob'));
    await waitForState(bob, connected());
    await bob.outbox.loaded;
    expect(bob.pending()).toEqual([]); // not bob's to send

    const annAgain = tab(as('ann'));
    const sent: OutboxMessage[] = [];
    annAgain.outbox.on('change', (m) => m.state === 'sent' && sent.push(m));
    await eventually(() => sent.length === 1, "ann's next page sends it");
    const res = await fetch(`${second.url}/api/history`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'note' }),
    });
    const { publications } = (await res.json()) as { publications: Array<{ data: unknown }> };
    expect(publications.map((p) => p.data)).toEqual(['from ann']);
  });
});
