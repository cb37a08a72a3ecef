import type { Publication } from '@herald/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HubCore } from '../../src/core/hub.ts';
import { coreWithSession, publishMany } from './support.ts';

// The hub core alone: a fake sink, the memory broker, no sockets. What a subscriber receives is the
// subscribe result's publications followed by what the sink was sent.

const hubs: HubCore[] = [];
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close();
});

async function setup() {
  const parts = await coreWithSession();
  hubs.push(parts.hub);
  return parts;
}

describe('resume', () => {
  it('sends exactly the missed publications, then what was published while the result was on its way', async () => {
    const { hub, sink, session } = await setup();
    const [first] = await publishMany(hub, 'room:a', 1, 3);
    const { epoch } = await hub.history('room:a', { limit: 1 });
    const positioned = await hub.subscribe(session, 'room:a', { since: { epoch, offset: first } });
    expect(positioned.result).toMatchObject({ recovered: true, offset: 3 });
    expect(positioned.result.publications.map((p) => p.offset)).toEqual([2, 3]);
    // Published after the read, before the result reached the client: held, not lost, not sent early.
    await publishMany(hub, 'room:a', 4, 2);
    expect(sink.offsets).toEqual([]);
    positioned.activate();
    expect(sink.offsets).toEqual([4, 5]);
  });

  it('loses and doubles nothing when publications race the positioning', async () => {
    for (let round = 0; round < 20; round++) {
      const { hub, sink, session } = await setup();
      const channel = `race:${round}`;
      await publishMany(hub, channel, 1, 5);
      const { epoch } = await hub.history(channel, { limit: 1 });
      const racing = publishMany(hub, channel, 6, round % 7);
      const positioned = await hub.subscribe(session, channel, { since: { epoch, offset: 2 } });
      await racing;
      positioned.activate();
      await publishMany(hub, channel, 100, 2);
      const received = [...positioned.result.publications.map((p) => p.offset), ...sink.offsets];
      const last = 5 + (round % 7) + 2;
      expect(received).toEqual(Array.from({ length: last - 2 }, (_, i) => i + 3));
    }
  });

  it('starts from the end, recovered: false, when the position is from another epoch', async () => {
    const { hub, session } = await setup();
    await publishMany(hub, 'room:b', 1, 2);
    const positioned = await hub.subscribe(session, 'room:b', { since: { epoch: 'gone', offset: 1 } });
    expect(positioned.result).toMatchObject({ recovered: false, offset: 2, publications: [] });
  });
});

describe('live delivery', () => {
  it('heals a gap from history, in order, without doubling what waited meanwhile', async () => {
    const { hub, broker, sink, session } = await setup();
    (await hub.subscribe(session, 'room:c')).activate();
    await publishMany(hub, 'room:c', 1, 1);
    broker.lose.add(2);
    sink.hold();
    await publishMany(hub, 'room:c', 2, 4);
    // The catch-up waits for the connection to drain; 3, 4 and 5 wait with it.
    expect(sink.offsets).toEqual([1]);
    sink.flow();
    await vi.waitFor(() => expect(sink.offsets).toEqual([1, 2, 3, 4, 5]));
    await publishMany(hub, 'room:c', 6, 1);
    expect(sink.offsets).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('drops a publication the broker hands over twice', async () => {
    const { hub, broker, sink, session } = await setup();
    (await hub.subscribe(session, 'room:d')).activate();
    await publishMany(hub, 'room:d', 1, 2);
    const [again] = (await hub.history('room:d', {})).publications;
    broker.handOver(again);
    expect(sink.offsets).toEqual([1, 2]);
  });

  it('ends the subscription with insufficient_state when the stream restarts in a new epoch', async () => {
    const { hub, broker, sink, session } = await setup();
    (await hub.subscribe(session, 'room:e')).activate();
    await publishMany(hub, 'room:e', 1, 1);
    const reset: Publication = { channel: 'room:e', epoch: 'new-epoch', offset: 1, data: {} };
    broker.handOver(reset);
    await vi.waitFor(() =>
      expect(sink.frames).toContainEqual({
        type: 'unsub',
        channel: 'room:e',
        code: 'insufficient_state',
        reason: 'history no longer covers the gap',
        resubscribe: true,
      }),
    );
    expect(session.subscriptions.has('room:e')).toBe(false);
    expect(hub.getStats().channels).toBe(0);
    expect(sink.offsets).toEqual([1]);
  });

  it('ends the subscription with invalid_data for a publication that cannot be encoded', async () => {
    const { hub, broker, sink, session } = await setup();
    const positioned = await hub.subscribe(session, 'room:g');
    positioned.activate();
    broker.handOver({ channel: 'room:g', epoch: positioned.result.epoch, offset: 1, data: 1n });
    expect(sink.frames).toContainEqual(
      expect.objectContaining({ type: 'unsub', channel: 'room:g', code: 'invalid_data', resubscribe: true }),
    );
    expect(sink.offsets).toEqual([]);
  });
});

describe('idempotent publishing', () => {
  it('answers a repeated key with the first position and delivers it once', async () => {
    const { hub, sink, session } = await setup();
    (await hub.subscribe(session, 'room:h')).activate();
    const first = await hub.publish('room:h', { data: 'once', idempotencyKey: 'k1' });
    const again = await hub.publish('room:h', { data: 'once', idempotencyKey: 'k1' });
    expect(again).toEqual({ ...first, duplicate: true });
    expect(sink.offsets).toEqual([first.offset]);
    expect(hub.getStats()).toMatchObject({ published: 1, delivered: 1 });
  });
});
