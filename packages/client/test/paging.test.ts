import type { Publication } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { hubPerTest } from '../../server/test/support/hub.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import type { ResetEvent, TransportName } from '../src/index.ts';
import { clientPerTest, expectExactlyOnce } from './support/client.ts';

const hubs = hubPerTest();
const client = clientPerTest();

/** A hub whose send queue (64 KiB) is far smaller than what `channel` holds: 300 x 4 KiB. */
async function crowdedHub(channel: string) {
  const hub = await hubs.start({ maxQueueBytes: 64 * 1024 });
  const chunk = 'x'.repeat(4 * 1024);
  let epoch = '';
  for (let i = 0; i < 300; i += 25) {
    const done = await Promise.all(Array.from({ length: 25 }, () => hub.publish(channel, { chunk })));
    epoch = done[0].epoch;
  }
  return { hub, epoch };
}

for (const transport of ['websocket', 'sse', 'poll'] as TransportName[]) {
  describe(`over ${transport}, what the hub sends in pages arrives whole`, () => {
    it('history: the pages the hub cut are followed, forward and newest first', async () => {
      const { hub } = await crowdedHub('paged:history');
      const c = client({ url: hub.url, transports: [transport] });
      // A long-poll client has a connection once it polls something.
      const sub = c.subscribe('paged:history');
      await eventually(() => sub.status === 'subscribed', 'subscribed');
      const all = await c.history('paged:history');
      expectExactlyOnce(all.publications, 1, 300);
      expect(all.next).toBeUndefined();
      const newest = await c.history('paged:history', { reverse: true, limit: 120 });
      expect(newest.publications.map((p) => p.offset)).toEqual(
        Array.from({ length: 120 }, (_, i) => 300 - i),
      );
    });

    it('a resume bigger than the send queue: every publication once, in order, with live ones meanwhile', async () => {
      const { hub, epoch } = await crowdedHub('paged:resume');
      const c = client({ url: hub.url, transports: [transport] });
      const pubs: Publication[] = [];
      const resets: ResetEvent[] = [];
      c.subscribe('paged:resume', {
        since: { epoch, offset: 0 },
        onPublication: (p) => pubs.push(p),
        onReset: (r) => resets.push(r),
      });
      for (let i = 0; i < 30; i++) await hub.publish('paged:resume', { live: i });
      await eventually(() => pubs.length >= 330, 'caught up and live', 30_000);
      expectExactlyOnce(pubs, 1, 330);
      expect(resets).toEqual([]);
      expect(hub.server.hub.getStats().slowConsumers).toBe(0);
    });
  });
}
