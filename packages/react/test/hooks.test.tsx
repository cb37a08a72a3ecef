// @vitest-environment happy-dom

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HeraldClient, OutboxMessage } from '@herald/client';
import type { Publication } from '@herald/protocol';
import { createHub, WebSocketTransport } from '@herald/server';
import { act, StrictMode, useState } from 'react';
import { describe, expect, it } from 'vitest';
import { hubPerTest, type TestHub } from '../../server/test/support/hub.ts';
import {
  HeraldProvider,
  useChannel,
  useConnectionState,
  useHerald,
  usePresence,
  usePublish,
  useStream,
} from '../src/index.ts';
import { type Mounted, mount, publish, testClientOptions, waitFor } from './support.tsx';

const hubs = hubPerTest();
/** Roots are unmounted after each test, before the hubs they use close. */
const track = (m: Mounted) => {
  hubs.onCleanup(() => m.unmount());
  return m;
};

function Provider({ hub, children }: { hub: TestHub; children: React.ReactNode }) {
  return (
    <HeraldProvider url={hub.url} {...testClientOptions()}>
      {children}
    </HeraldProvider>
  );
}

function Status() {
  const state = useConnectionState();
  return <p id="status">{state.status === 'connected' ? `connected:${state.transport}` : state.status}</p>;
}

function Feed({ channel }: { channel: string }) {
  const [pubs, setPubs] = useState<Publication[]>([]);
  const { status } = useChannel(channel, (pub) => setPubs((list) => [...list, pub]));
  return (
    <ul id="feed" data-channel={channel} data-status={status}>
      {pubs.map((p) => (
        <li key={`${p.channel}:${p.offset}`}>{`${p.channel}=${String(p.data)};`}</li>
      ))}
    </ul>
  );
}

/** Whether the Feed shows `channel` subscribed: positioned, so publications from now on reach it. */
const feedLive = (root: Mounted, channel: string) =>
  root.container.querySelector(`[data-channel="${channel}"]`)?.getAttribute('data-status') === 'subscribed';

const sessions = (hub: TestHub) => hub.server.hub.sessions.size;
const subscriptions = (hub: TestHub) =>
  [...hub.server.hub.sessions].flatMap((s) => [...s.subscriptions.values()].map((sub) => sub.channel)).sort();

describe('@herald/react with a real hub', () => {
  it('opens one connection under StrictMode and closes it on unmount', async () => {
    const hub = await hubs.start();
    const root = track(
      await mount(
        <StrictMode>
          <Provider hub={hub}>
            <Status />
            <Feed channel="news" />
          </Provider>
        </StrictMode>,
      ),
    );
    await waitFor(() => root.text().includes('connected:websocket'), 'connected');
    await waitFor(() => feedLive(root, 'news'), 'subscribed');
    expect(sessions(hub)).toBe(1);
    expect(subscriptions(hub)).toEqual(['news']);
    await publish(hub, 'news', 'a');
    await publish(hub, 'news', 'b');
    await waitFor(() => root.text().includes('news=b;'), 'delivered');
    expect(root.text()).toContain('news=a;news=b;'); // once each, in order, despite double effects
    await root.unmount();
    await waitFor(() => sessions(hub) === 0, 'connection closed');
  });

  it('follows fast channel switches and ends with exactly the last one, leaking no listener', async () => {
    const hub = await hubs.start();
    let client: HeraldClient | null = null;
    function Capture() {
      client = useHerald();
      return null;
    }
    const tree = (channel: string | null) => (
      <StrictMode>
        <Provider hub={hub}>
          <Capture />
          {channel && <Feed key="feed" channel={channel} />}
        </Provider>
      </StrictMode>
    );
    const root = track(await mount(tree('room:a')));
    await waitFor(() => subscriptions(hub).length === 1, 'first room');
    for (const room of ['room:b', 'room:c', 'room:b', 'room:a', 'room:c', 'room:b'])
      await root.render(tree(room));
    await waitFor(() => feedLive(root, 'room:b'), 'the last room live');
    await waitFor(() => subscriptions(hub).join() === 'room:b', 'only the last room');
    await publish(hub, 'room:a', 1);
    await publish(hub, 'room:b', 2);
    await publish(hub, 'room:c', 3);
    await waitFor(() => root.text().includes('room:b=2;'), 'delivered');
    expect(root.text()).not.toContain('room:a=1');
    expect(root.text()).not.toContain('room:c=3');
    // Unmounting the subscriber releases the channel and every listener it added.
    await root.render(tree(null));
    await waitFor(() => subscriptions(hub).length === 0, 'released');
    const emitter = (client as unknown as { emitter: { listenerCount(e: string): number } }).emitter;
    expect(emitter.listenerCount('publication')).toBe(0);
    expect(sessions(hub)).toBe(1);
  });

  it('shows optimistic messages with their states and never a message twice', async () => {
    const hub = await hubs.start({ maxPayloadBytes: 64 });
    let send: ((data: unknown) => string) | undefined;
    let view: { retry(id: string): void; cancel(id: string): void } | undefined;
    function Chat() {
      const [received, setReceived] = useState<Publication[]>([]);
      const { status } = useChannel('chat:1', (p) => setReceived((l) => [...l, p]));
      const { publish, messages, retry, cancel } = usePublish('chat:1');
      send = publish;
      view = { retry, cancel };
      const line = (m: OutboxMessage) => `${String(m.data)}(${m.state});`;
      return (
        <div data-channel="chat:1" data-status={status}>
          <p id="received">{received.map((p) => `${String(p.data)};`).join('')}</p>
          <p id="pending">{messages.map(line).join('')}</p>
        </div>
      );
    }
    const root = track(
      await mount(
        <StrictMode>
          <Provider hub={hub}>
            <Chat />
          </Provider>
        </StrictMode>,
      ),
    );
    await waitFor(() => feedLive(root, 'chat:1'), 'subscribed');
    const seen: string[] = [];
    const observer = new MutationObserver(() => seen.push(root.text()));
    observer.observe(root.container, { subtree: true, childList: true, characterData: true });
    await waitFor(() => send !== undefined, 'hook ready');
    act(() => {
      send!('hello');
      send!('world');
    });
    // Shown at once, before any reply could come back over the socket.
    expect(root.text()).toBe('hello(sending);world(sending);');
    await waitFor(() => root.text() === 'hello;world;', 'sent and echoed');
    observer.disconnect();
    // Every screen on the way shows each message at most once: pending, or received, never both.
    for (const screen of seen) {
      for (const word of ['hello', 'world']) expect(screen.split(word).length - 1).toBeLessThanOrEqual(1);
    }

    // Publishing, retrying and cancelling update the outbox's state at once, as a click would: in act.
    let big = '';
    act(() => {
      big = send!('x'.repeat(100));
    });
    await waitFor(() => root.text().includes('(failed)'), 'refused');
    act(() => view!.retry(big));
    await waitFor(() => root.text().includes('(failed)'), 'refused again');
    act(() => view!.cancel(big));
    await waitFor(() => root.text() === 'hello;world;', 'cancelled');
  });

  it('lists presence as members join and leave', async () => {
    const hub = await hubs.start({ namespaces: { '*': { joinLeave: true } } });
    function Who() {
      const { members } = usePresence('lobby:1');
      return <p>{`members=${members.length};`}</p>;
    }
    const tree = (
      <Provider hub={hub}>
        <Who />
      </Provider>
    );
    const a = track(await mount(tree));
    await waitFor(() => a.text() === 'members=1;', 'alone');
    const b = track(await mount(tree));
    await waitFor(() => a.text() === 'members=2;' && b.text() === 'members=2;', 'both see two');
    await b.unmount();
    await waitFor(() => a.text() === 'members=1;', 'the other left');
  });

  it('folds a token stream into text, live and replayed from history for a late viewer', async () => {
    const hub = await hubs.start();
    function Answer({ id }: { id: string }) {
      const { value, done } = useStream<string>(`answers:${id}`, {
        initial: '',
        reduce: (text, pub) => (pub.event === 'token' ? text + (pub.data as { token: string }).token : text),
      });
      return <p>{`${value}|${done ? 'done' : 'streaming'}`}</p>;
    }
    const tokens = ['Herald', ' streams', ' tokens', ' in', ' order.'];
    const live = track(
      await mount(
        <StrictMode>
          <Provider hub={hub}>
            <Answer id="q1" />
          </Provider>
        </StrictMode>,
      ),
    );
    await waitFor(() => subscriptions(hub).length === 1, 'subscribed');
    for (const [index, token] of tokens.entries())
      await publish(hub, 'answers:q1', { index, token }, 'token');
    await publish(hub, 'answers:q1', { tokens: tokens.length }, 'done');
    const full = `${tokens.join('')}|done`;
    await waitFor(() => live.text() === full, 'streamed');
    const late = track(
      await mount(
        <Provider hub={hub}>
          <Answer id="q1" />
        </Provider>,
      ),
    );
    await waitFor(() => late.text() === full, 'replayed');
  });

  it('connects without options to the hub mounted at /realtime of its own origin', async () => {
    // What a Next.js app gets from `heraldRoutes` and `startNextServer`: the hub below `/realtime`.
    const hub = await createHub();
    const http = createServer((_req, res) => res.writeHead(404).end());
    const websocket = new WebSocketTransport(hub);
    websocket.attach(http, { path: '/realtime/connection/websocket' });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    hubs.onCleanup(async () => {
      await websocket.close(4000, 'test over');
      await hub.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    });
    const page = `http://127.0.0.1:${(http.address() as AddressInfo).port}/inbox`;
    const dom = (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM;
    const previous = location.href;
    dom.setURL(page);
    hubs.onCleanup(() => dom.setURL(previous));

    const root = track(
      await mount(
        <HeraldProvider {...testClientOptions()}>
          <Status />
          <Feed channel="inbox" />
        </HeraldProvider>,
      ),
    );
    await waitFor(() => root.text().includes('connected:websocket'), 'connected to /realtime');
    await waitFor(() => feedLive(root, 'inbox'), 'subscribed');
    await hub.publish('inbox', { data: 'hello' });
    await waitFor(() => root.text().includes('inbox=hello;'), 'delivered');
    expect(hub.sessions.size).toBe(1);
  });
});
