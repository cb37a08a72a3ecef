import { defineChannels, type Publication } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { hubPerTest } from '../../server/test/support/hub.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import { type ClientOptions, createClient, type HeraldClientError, memoryOutboxStore } from '../src/index.ts';

const hubs = hubPerTest();
const channels = defineChannels({
  'chat:*': { message: z.object({ text: z.string(), edited: z.boolean().default(false) }) },
});

describe('a client made with channels, on a hub that checks them', () => {
  it.each(['websocket', 'sse', 'poll'] as const)(
    'over %s: good data arrives as the schema outputs it; bad data fails its message for good',
    async (transport) => {
      const hub = await hubs.start({}, { channels });
      const options: ClientOptions & { channels: typeof channels } = {
        url: hub.url,
        transports: [transport],
        WebSocket: WebSocket as unknown as ClientOptions['WebSocket'],
        outbox: { store: memoryOutboxStore() },
        channels,
      };
      const client = createClient(options);
      hubs.onCleanup(() => client.close());
      const received: Publication[] = [];
      client.subscribe('chat:1', { onPublication: (pub) => received.push(pub) });

      expect(await client.publish('chat:1', { text: 'one' }, { event: 'message' })).toMatchObject({
        offset: 1,
      });
      // What the compiler refuses, forced through: the hub refuses it, and the outbox does not retry it.
      const bad = client.publish('chat:1', { text: 2 } as unknown as { text: string }, { event: 'message' });
      const error = (await bad.catch((err: unknown) => err)) as HeraldClientError;
      expect(error).toMatchObject({ code: 'invalid_data', message: expect.stringContaining('at text: ') });
      expect(client.pending('chat:1')).toMatchObject([{ id: bad.id, state: 'failed' }]);
      expect(await client.publish('chat:1', { text: 'three' }, { event: 'message' })).toMatchObject({
        offset: 2,
      });

      await eventually(() => received.length === 2, 'both good messages delivered');
      expect(received.map((p) => [p.event, p.data])).toEqual([
        ['message', { text: 'one', edited: false }],
        ['message', { text: 'three', edited: false }],
      ]);
    },
  );
});
