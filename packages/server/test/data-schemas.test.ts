import { defineChannels, ErrorCodes, type Publication, type SseConnectedEvent } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { HeraldConfigInput } from '../src/config.ts';
import { HeraldServer } from '../src/server.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { poll } from './support/poll-client.ts';
import { RawSseStream } from './support/sse-client.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();
const LIMIT = 1024;

/** The same rules twice: `chat` messages are `{text: string ≤ 200, tags?: string[]}`, typing is `{user}`. */
const channels = defineChannels({
  'chat:*': {
    message: z.object({ text: z.string().max(200), tags: z.array(z.string()).optional() }).strict(),
    typing: z.object({ user: z.string() }),
  },
});
const jsonSchemas: HeraldConfigInput = {
  namespaces: {
    chat: {
      events: {
        message: {
          type: 'object',
          properties: {
            text: { type: 'string', maxLength: 200 },
            tags: { type: 'array', items: { type: 'string' } },
          },
          required: ['text'],
          additionalProperties: false,
        },
        typing: { type: 'object', properties: { user: { type: 'string' } }, required: ['user'] },
      },
    },
    '*': {},
  },
};

const kinds = [
  {
    kind: 'Standard Schema (getHub({ channels }), zod)',
    start: () => hubs.start({ maxPayloadBytes: LIMIT }, { channels }),
  },
  {
    kind: 'JSON Schema (config file namespaces.*.events, Ajv)',
    start: () => hubs.start({ ...jsonSchemas, maxPayloadBytes: LIMIT }),
  },
];

type Reply = { status: number; code?: string; message?: string };

async function post(hub: TestHub, path: string, body: Record<string, unknown>): Promise<Reply> {
  const res = await fetch(`${hub.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  return { status: res.status, code: json.error?.code, message: json.error?.message };
}

const dataOf = (pubs: Publication[]) => pubs.map((p) => p.data);

describe.each(kinds)('publication data checked by the hub: $kind', ({ start }) => {
  it('refuses bad data on every publish path with the path of the first issue; only good data is delivered', async () => {
    const hub = await start();
    const channel = 'chat:room-1';
    const first = await poll(hub.url, `channel=${channel}&timeout=0`);
    const watcher = await WsTestClient.open(hub.wsUrl);
    await watcher.call('subscribe', { channel });
    const sse = await RawSseStream.open(`${hub.url}/connection/sse?channel=${channel}`);
    await eventually(() => sse.controls.length === 2, 'SSE subscribed');
    const session = (sse.controls[0] as SseConnectedEvent).session;
    const publisher = await WsTestClient.open(hub.wsUrl);

    // One publish function per path a publication can take into the hub.
    const paths: Record<string, (data: unknown, event?: string) => Promise<Reply>> = {
      websocket: async (data, event) => {
        const reply = await publisher.command('publish', { channel, data, event });
        const error = reply.error as { code: string; message: string } | undefined;
        return { status: error ? ErrorCodes[error.code as keyof typeof ErrorCodes] : 200, ...error };
      },
      'SSE client action': (data, event) =>
        post(hub, '/connection/publish', { session, channel, data, event }),
      'long-poll client action': (data, event) => post(hub, '/connection/publish', { channel, data, event }),
      'HTTP API': (data, event) => post(hub, '/api/publish', { channel, data, event }),
      'in-process server API': async (data, event) => {
        try {
          await hub.server.hub.publish(channel, { data, event });
          return { status: 200 };
        } catch (err) {
          const { code, message } = err as { code: string; message: string };
          return { status: ErrorCodes[code as keyof typeof ErrorCodes], code, message };
        }
      },
    };
    const good: unknown[] = [];
    for (const [name, publish] of Object.entries(paths)) {
      const wrongType = await publish({ text: 42 }, 'message');
      expect(wrongType, name).toMatchObject({ status: 400, code: 'invalid_data' });
      expect(wrongType.message, name).toMatch(/^data of message on chat:room-1 at text: /);
      const nested = await publish({ text: 'x', tags: ['a', 7] }, 'message');
      expect(nested.message, name).toContain('at tags[1]: ');
      const missing = await publish({}, 'typing');
      expect(missing, name).toMatchObject({
        code: 'invalid_data',
        message: expect.stringContaining('at user: '),
      });
      expect(await publish({ text: 'hi' }, 'reaction'), name).toMatchObject({
        status: 400,
        code: 'invalid_event',
        message: 'chat:room-1 takes events message, typing, not event "reaction"',
      });
      expect(await publish({ text: 'hi' }), name).toMatchObject({ code: 'invalid_event' });
      // Over the size limit: refused for its size before any schema looks at it.
      const oversized = await publish({ text: 'x'.repeat(LIMIT) }, 'message');
      expect(oversized, name).toMatchObject({ status: 413, code: 'payload_too_large' });
      const data = { text: `via ${name}` };
      expect(await publish(data, 'message'), name).toMatchObject({ status: 200 });
      good.push(data);
    }
    // The publisher whose data was refused is still connected and publishing.
    expect(publisher.closeCode).toBeUndefined();

    // Only the good ones, once each, in order, on every transport; offsets have no holes.
    await eventually(() => watcher.publications.length === good.length, 'websocket deliveries');
    await eventually(() => sse.publications.length === good.length, 'SSE deliveries');
    expect(dataOf(watcher.publications)).toEqual(good);
    expect(watcher.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(dataOf(sse.publications)).toEqual(good);
    const polled = await poll(hub.url, `channel=${channel}&cursor=${first.cursor}&timeout=0`);
    expect(dataOf(polled.publications)).toEqual(good);
    // Channels no schema describes take anything.
    expect(await post(hub, '/api/publish', { channel: 'feed:1', data: 42 })).toMatchObject({ status: 200 });
    for (const c of [watcher, publisher]) c.close();
    await sse.close();
  });

  it('lets the server API opt out (validate: false), never a client', async () => {
    const hub = await start();
    const channel = 'chat:raw';
    expect(
      await post(hub, '/api/publish', { channel, data: { text: 1 }, event: 'message', validate: false }),
    ).toEqual({
      status: 200,
      code: undefined,
      message: undefined,
    });
    await expect(
      hub.server.hub.publish(channel, { data: 'anything', validate: false }),
    ).resolves.toMatchObject({
      offset: 2,
    });
    expect(await post(hub, '/api/publish', { channel, data: 1, validate: 'no' })).toMatchObject({
      code: 'bad_request',
    });
    expect(
      await post(hub, '/connection/publish', {
        channel,
        data: { text: 1 },
        event: 'message',
        validate: false,
      }),
    ).toMatchObject({
      status: 400,
      code: 'bad_request',
    });
    const broadcast = await fetch(`${hub.url}/api/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channels: ['chat:a', 'feed:b'], data: { text: 1 }, event: 'message' }),
    });
    expect(await broadcast.json()).toMatchObject({
      results: [{ error: { code: 'invalid_data' } }, { epoch: expect.any(String), offset: 1 }],
    });
  });
});

describe('schema outputs and config errors', () => {
  it('publishes what a Standard Schema outputs (defaults filled in)', async () => {
    const withDefaults = defineChannels({
      'jobs:*': { progress: z.object({ percent: z.number().default(0) }) },
    });
    const hub = await hubs.start({}, { channels: withDefaults });
    const c = await WsTestClient.open(hub.wsUrl);
    await c.call('subscribe', { channel: 'jobs:1' });
    await hub.publish('jobs:1', {}, { event: 'progress' });
    await eventually(() => c.publications.length === 1, 'delivered');
    expect(c.publications[0]).toMatchObject({ event: 'progress', data: { percent: 0 } });
    c.close();
  });

  it('refuses a JSON Schema Ajv cannot compile at startup, naming it', async () => {
    const config = { namespaces: { chat: { events: { message: { type: 'strnig' } } } } };
    await expect(HeraldServer.create({ config })).rejects.toThrow(/^namespaces\.chat\.events\.message: /);
    const reserved = { namespaces: { chat: { events: { herald: {} } } } };
    await expect(HeraldServer.create({ config: reserved })).rejects.toThrow(
      /namespaces\.chat\.events\.herald: /,
    );
  });
});
