import type { Publication } from '@herald/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type Delivery, encodingSlot } from '../../src/core/delivery.ts';
import type { HubCore } from '../../src/core/hub.ts';
import type { Session } from '../../src/core/session.ts';
import { StoredDeliveries } from '../../src/core/stored-deliveries.ts';
import { type FakeSink, fakeSession, LossyBroker, publishMany, startedCore } from './support.ts';

// Clients resuming together (a reconnect storm) read the same stretch of history: they share one
// Delivery per stored publication, so each encoding is made once, and each still gets exactly what it
// missed, in order.

const hubs: HubCore[] = [];
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close();
});

async function hubWithSessions(count: number, broker = new LossyBroker()) {
  const hub = await startedCore(broker);
  hubs.push(hub);
  const clients: { sink: FakeSink; session: Session }[] = [];
  for (let i = 0; i < count; i++) clients.push(await fakeSession(hub));
  return { hub, broker, clients };
}

/** A memory broker whose history reads wait while the test holds them. */
class GatedBroker extends LossyBroker {
  gate: Promise<void> | null = null;

  override async history(...args: Parameters<LossyBroker['history']>) {
    await this.gate;
    return super.history(...args);
  }
}

/** A transport's encoding of publications, counting how often it is made. */
const FRAME = encodingSlot<Buffer>();
let framesMade = 0;
function frameOf(delivery: Delivery): Buffer {
  framesMade++;
  return Buffer.concat([Buffer.from('frame:'), delivery.json]);
}

function pub(offset: number, epoch = 'e1', channel = 'room:a'): Publication {
  return { channel, epoch, offset, data: { text: 'x'.repeat(40) } } as Publication;
}

describe('resuming subscribers', () => {
  it('share one delivery per stored publication and get exactly what they missed, in order', async () => {
    const { hub, clients } = await hubWithSessions(30);
    await publishMany(hub, 'room:a', 1, 20);
    const { epoch } = await hub.history('room:a', { limit: 1 });
    const positioned = await Promise.all(
      clients.map(({ session }) => hub.subscribe(session, 'room:a', { since: { epoch, offset: 5 } })),
    );
    framesMade = 0;
    for (const p of positioned) {
      expect(p.result).toMatchObject({ recovered: true, offset: 20 });
      expect(p.result.publications.map((x) => x.offset)).toEqual(Array.from({ length: 15 }, (_, i) => i + 6));
      p.deliveries.forEach((delivery, i) => {
        expect(delivery).toBe(positioned[0].deliveries[i]);
        delivery.encoded(FRAME, frameOf);
      });
    }
    expect(framesMade).toBe(15);
    // Published while the results were on their way: each client gets them once, after what it missed.
    await publishMany(hub, 'room:a', 21, 3);
    for (const p of positioned) p.activate();
    await publishMany(hub, 'room:a', 24, 1);
    for (const { sink } of clients) expect(sink.offsets).toEqual([21, 22, 23, 24]);
  });

  it('share deliveries when catching up a gap from history', async () => {
    const { hub, broker, clients } = await hubWithSessions(5);
    for (const { session } of clients) (await hub.subscribe(session, 'room:b')).activate();
    await publishMany(hub, 'room:b', 1, 1);
    broker.lose.add(2);
    broker.lose.add(3);
    await publishMany(hub, 'room:b', 2, 3);
    const expected = [1, 2, 3, 4];
    for (const { sink } of clients) await expect.poll(() => sink.offsets).toEqual(expected);
    const healed = clients.map(({ sink }) => sink.deliveries[1]);
    for (const delivery of healed) expect(delivery).toBe(healed[0]);
  });

  it('builds nothing for a session that closed while history was read', async () => {
    const broker = new GatedBroker();
    const { hub, clients } = await hubWithSessions(1, broker);
    const [{ sink, session }] = clients;
    await publishMany(hub, 'room:c', 1, 5);
    const { epoch } = await hub.history('room:c', { limit: 1 });
    let open = () => {};
    broker.gate = new Promise((resolve) => {
      open = resolve;
    });
    const subscribing = hub.subscribe(session, 'room:c', { since: { epoch, offset: 1 } });
    await expect.poll(() => session.subscriptions.has('room:c')).toBe(true);
    session.transportClosed();
    open();
    const positioned = await subscribing;
    expect(positioned.deliveries).toEqual([]);
    expect(session.unsentBytes).toBe(0);
    positioned.activate();
    expect(sink.offsets).toEqual([]);
  });
});

describe('StoredDeliveries', () => {
  it('keeps one delivery per channel, epoch and offset', () => {
    const stored = new StoredDeliveries(1 << 20);
    const first = stored.of(pub(1));
    expect(stored.of(pub(1))).toBe(first);
    expect(stored.of(pub(1, 'e2'))).not.toBe(first);
    expect(stored.of(pub(1, 'e1', 'room:b'))).not.toBe(first);
  });

  it('drops the least recently used past its budget of bytes', () => {
    const one = new StoredDeliveries(1 << 20);
    one.of(pub(1));
    // Room for exactly two entries of this size.
    const entry = 256 + 3 * one.of(pub(1)).json.length;
    const stored = new StoredDeliveries(2 * entry);
    const a = stored.of(pub(1));
    const b = stored.of(pub(2));
    expect(stored.of(pub(1))).toBe(a);
    stored.of(pub(3));
    expect(stored.of(pub(1))).toBe(a);
    expect(stored.of(pub(2))).not.toBe(b);
  });

  it('keeps none larger than its whole budget', () => {
    const stored = new StoredDeliveries(100);
    expect(stored.of(pub(1))).not.toBe(stored.of(pub(1)));
  });
});
