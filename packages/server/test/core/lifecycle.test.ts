import { HeraldError } from '@herald/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/brokers/memory-broker.ts';
import { parseConfig } from '../../src/config.ts';
import type { Authenticator } from '../../src/core/auth.ts';
import { HubCore } from '../../src/core/hub.ts';
import type { LifecycleEvent } from '../../src/core/lifecycle.ts';
import { FakeSink } from './support.ts';

// What lifecycle observers are told, straight from the core: a fake sink, the memory broker, no sockets.

/** The token is the user's name; `bad` is refused. */
const byToken: Authenticator = {
  connect: async ({ token }) => {
    if (token === 'bad') throw new HeraldError('unauthorized', 'bad token');
    return { user: token ?? null };
  },
  authorizeSubscription: async () => {},
};

const hubs: HubCore[] = [];
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close();
});

async function observedHub() {
  const config = parseConfig({ namespaces: { room: { presence: true }, chat: { presence: false } } });
  const hub = new HubCore({ config, broker: new MemoryBroker(), authenticator: byToken });
  hubs.push(hub);
  await hub.start();
  const events: LifecycleEvent[] = [];
  hub.observe((event) => events.push(event));
  const connect = (token?: string) =>
    hub.connect(new FakeSink(), { transport: 'test' }, token === undefined ? {} : { token });
  return { hub, events, connect };
}

/** The events since `from`, without what varies (ids, durations). */
function facts(events: LifecycleEvent[], from = 0) {
  return events.slice(from).map((event) => {
    const { type } = event;
    if (type === 'client.connected') return { type, user: event.user, transport: event.transport };
    if (type === 'client.disconnected')
      return { type, user: event.user, code: event.code, reason: event.reason };
    if (type === 'presence.joined' || type === 'presence.left')
      return { type, channel: event.channel, user: event.member.user };
    if (type === 'channel.subscribed' || type === 'channel.unsubscribed')
      return { type, channel: event.channel, user: event.user };
    return event;
  });
}

describe('lifecycle observers', () => {
  it('hear a client connect, subscribe, occupy a channel, join its presence, and all of it end', async () => {
    const { hub, events, connect } = await observedHub();
    const ann = await connect('ann');
    const subscribed = await hub.subscribe(ann, 'room:1');
    // Nothing is announced before the subscribe result has gone to the client.
    expect(facts(events)).toEqual([
      { type: 'client.connected', user: 'ann', transport: 'test' },
      { type: 'channel.occupied', channel: 'room:1' },
    ]);
    subscribed.activate();
    expect(facts(events, 2)).toEqual([
      { type: 'channel.subscribed', channel: 'room:1', user: 'ann' },
      { type: 'presence.joined', channel: 'room:1', user: 'ann' },
    ]);
    const bob = await connect('bob');
    (await hub.subscribe(bob, 'room:1')).activate();
    // The channel was occupied already: only bob's own facts.
    expect(facts(events, 4).map((e) => e.type)).toEqual([
      'client.connected',
      'channel.subscribed',
      'presence.joined',
    ]);
    hub.unsubscribe(ann, 'room:1');
    expect(facts(events, 7)).toEqual([
      { type: 'presence.left', channel: 'room:1', user: 'ann' },
      { type: 'channel.unsubscribed', channel: 'room:1', user: 'ann' },
    ]);
    bob.close(4504, 'disconnected by the server');
    expect(facts(events, 9)).toEqual([
      { type: 'presence.left', channel: 'room:1', user: 'bob' },
      { type: 'channel.unsubscribed', channel: 'room:1', user: 'bob' },
      { type: 'channel.vacated', channel: 'room:1' },
      { type: 'client.disconnected', user: 'bob', code: 4504, reason: 'disconnected by the server' },
    ]);
    const disconnected = events.at(-1);
    expect(disconnected).toMatchObject({ client: bob.id, transport: 'test' });
    expect(disconnected?.type === 'client.disconnected' && disconnected.durationMs).toBeGreaterThanOrEqual(0);
    ann.transportClosed(1001, 'going away');
    expect(facts(events, 13)).toEqual([
      { type: 'client.disconnected', user: 'ann', code: 1001, reason: 'going away' },
    ]);
  });

  it('hear nothing of a refused client, nor of publications', async () => {
    const { hub, events, connect } = await observedHub();
    await expect(connect('bad')).rejects.toMatchObject({ code: 'unauthorized' });
    expect(hub.sessions.size).toBe(0);
    const anon = await connect();
    (await hub.subscribe(anon, 'chat:1')).activate();
    const before = events.length;
    for (let i = 0; i < 5; i++) await hub.publish('chat:1', { data: i });
    expect(events.length).toBe(before);
    expect(facts(events).map((e) => e.type)).toEqual([
      'client.connected',
      'channel.occupied',
      'channel.subscribed',
    ]);
  });

  it('keep the hub and the other observers going when one throws, and can stop listening', async () => {
    const { hub, events, connect } = await observedHub();
    const stop = hub.observe(() => {
      throw new Error('observer bug');
    });
    const ann = await connect('ann');
    (await hub.subscribe(ann, 'chat:1')).activate();
    expect(facts(events).map((e) => e.type)).toEqual([
      'client.connected',
      'channel.occupied',
      'channel.subscribed',
    ]);
    stop();
    const seen: LifecycleEvent[] = [];
    const stopSeen = hub.observe((event) => seen.push(event));
    stopSeen();
    ann.close(4000, 'server shutting down');
    expect(seen).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'client.disconnected', code: 4000 });
  });
});
