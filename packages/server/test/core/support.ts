import type { Publication, ServerFrame } from '@herald/protocol';
import { MemoryBroker } from '../../src/brokers/memory-broker.ts';
import { parseConfig } from '../../src/config.ts';
import type { Authenticator } from '../../src/core/auth.ts';
import type { BrokerHandlers } from '../../src/core/broker.ts';
import type { Delivery } from '../../src/core/delivery.ts';
import { HubCore } from '../../src/core/hub.ts';
import type { Session } from '../../src/core/session.ts';
import type { Sink } from '../../src/core/sink.ts';

/** A connection that keeps what the hub sends it, publications and other frames apart. */
export class FakeSink implements Sink {
  session!: Session;
  readonly publications: Publication[] = [];
  readonly deliveries: Delivery[] = [];
  readonly frames: ServerFrame[] = [];
  /** Held drain: a catch-up waits on it until the test lets it go. */
  private release: (() => void) | null = null;
  private held: Promise<void> | null = null;

  send(frame: ServerFrame): void {
    this.frames.push(frame);
  }

  sendPublication(delivery: Delivery): void {
    this.publications.push(delivery.pub);
    this.deliveries.push(delivery);
  }

  queuedBytes(): number {
    return 0;
  }

  drained(): Promise<void> {
    return this.held ?? Promise.resolve();
  }

  /** From now on `drained()` waits until `flow()`. */
  hold(): void {
    this.held = new Promise((resolve) => {
      this.release = resolve;
    });
  }

  flow(): void {
    this.release?.();
    this.held = null;
  }

  close(): void {}

  /** The offsets received, in order. */
  get offsets(): number[] {
    return this.publications.map((pub) => pub.offset);
  }
}

/**
 * A memory broker whose live hand-over the test controls: publications it is told to lose never reach
 * the hub (a gap), and extra ones can be handed over as if the broker sent them (redeliveries, a new epoch).
 */
export class LossyBroker extends MemoryBroker {
  readonly lose = new Set<number>();
  private live: BrokerHandlers | null = null;

  override async start(handlers: BrokerHandlers): Promise<void> {
    this.live = handlers;
    await super.start({
      ...handlers,
      publication: (pub) => {
        if (!this.lose.has(pub.offset)) handlers.publication(pub);
      },
    });
  }

  handOver(pub: Publication): void {
    this.live?.publication(pub);
  }
}

const anyone: Authenticator = {
  connect: async () => ({ user: null }),
  authorizeSubscription: async () => {},
};

/** A started hub core on `broker` that lets anyone in. */
export async function startedCore(broker: MemoryBroker): Promise<HubCore> {
  const hub = new HubCore({ config: parseConfig({}), broker, authenticator: anyone });
  await hub.start();
  return hub;
}

/** An admitted session on a fake sink. */
export async function fakeSession(hub: HubCore) {
  const sink = new FakeSink();
  const session = await hub.connect(sink, { transport: 'test' }, {});
  return { sink, session };
}

/** A started hub core on `broker`, with one admitted session on a fake sink. */
export async function coreWithSession(broker = new LossyBroker()) {
  const hub = await startedCore(broker);
  return { hub, broker, ...(await fakeSession(hub)) };
}

/** Publishes `count` messages numbered from `from`, in order; resolves with their offsets. */
export async function publishMany(hub: HubCore, channel: string, from: number, count: number) {
  const offsets: number[] = [];
  for (let i = 0; i < count; i++)
    offsets.push((await hub.publish(channel, { data: { n: from + i } })).offset);
  return offsets;
}
