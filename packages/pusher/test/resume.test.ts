import { describe, expect, test } from 'vitest';
import type { TestHub } from '../../server/test/support/hub.ts';
import {
  APP,
  collect,
  next,
  type Pusher,
  pusherPerTest,
  serverSdk,
  subscribed,
} from '../../server/test/support/pusher.ts';
import { resumable } from '../src/index.ts';

const { start, client } = pusherPerTest();

/** Cuts every pusher-js connection of the hub as a network failure would (no close handshake). */
function dropConnections(hub: TestHub): void {
  for (const connection of hub.server.hub.pusher?.connections ?? []) connection.ws.terminate();
}

/** Triggers `from..to` on `feed` while every client is cut off, then waits until they are subscribed again. */
async function missWhileDown(hub: TestHub, clients: Pusher[], from: number, to: number) {
  const sdk = serverSdk(hub);
  const back = clients.map((pusher) =>
    next(pusher.channel('feed'), 'pusher:subscription_succeeded', 'a subscription after reconnecting'),
  );
  dropConnections(hub);
  for (let n = from; n <= to; n++) await sdk.trigger('feed', 'item', { n });
  await Promise.all(back);
}

describe('@herald/pusher', () => {
  test('a resumable client gets what it missed while reconnecting, in order, once; plain pusher-js does not', async () => {
    const hub = await start({ pusher: { apps: [APP] } });
    const sdk = serverSdk(hub);
    const plain = client(hub);
    const resuming = client(hub);
    const positions = resumable(resuming);
    const plainSeen = collect((await subscribed(plain, 'feed')).channel, 'item');
    const resumedSeen = collect((await subscribed(resuming, 'feed')).channel, 'item');
    for (let n = 1; n <= 3; n++) await sdk.trigger('feed', 'item', { n });
    await expect.poll(() => positions.position('feed')?.offset).toBe(3);

    await missWhileDown(hub, [plain, resuming], 4, 6);
    for (let n = 7; n <= 8; n++) await sdk.trigger('feed', 'item', { n });
    const all = Array.from({ length: 8 }, (_, i) => ({ n: i + 1 }));
    await expect.poll(() => resumedSeen).toEqual(all);
    // Exactly Pusher's behaviour without the helper: what was sent while it was away is lost.
    await expect.poll(() => plainSeen).toEqual(all.filter(({ n }) => n < 4 || n > 6));
    expect(positions.position('feed')?.offset).toBe(8);
  });

  test('tells the app when history no longer reaches back', async () => {
    const hub = await start({
      pusher: { apps: [APP] },
      namespaces: { '': { historySize: 2, presence: true, joinLeave: true } },
    });
    const sdk = serverSdk(hub);
    const missed: string[] = [];
    const resuming = client(hub);
    resumable(resuming, { onMissed: (channel) => missed.push(channel) });
    const seen = collect((await subscribed(resuming, 'feed')).channel, 'item');
    await sdk.trigger('feed', 'item', { n: 1 });
    await expect.poll(() => seen).toEqual([{ n: 1 }]);
    await missWhileDown(hub, [resuming], 2, 5);
    await expect.poll(() => missed).toEqual(['feed']);
    await sdk.trigger('feed', 'item', { n: 6 });
    await expect.poll(() => seen).toEqual([{ n: 1 }, { n: 6 }]);
  });
});
