import { createServer } from 'node:http';
import { defineChannels, HeraldError } from '@herald/protocol';
import { Hub } from '@herald/server';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hubPerTest } from '../../server/test/support/hub.ts';
import { freePort } from '../../server/test/support/process.ts';
import { closeHub, getHub } from '../src/hub.ts';
import { createPublisher } from '../src/publisher.ts';

const { start, onCleanup } = hubPerTest();

async function rejection(promise: Promise<unknown>): Promise<HeraldError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HeraldError);
  return err as HeraldError;
}

describe('in-process publisher', () => {
  it('publishes, dedupes by idempotency key, broadcasts and reads history', async () => {
    const hub = new Hub();
    await hub.start();
    onCleanup(() => hub.close());
    const publisher = createPublisher({ hub });

    const first = await publisher.publish(
      'jobs:1',
      { progress: 10 },
      { event: 'progress', idempotencyKey: 'a' },
    );
    expect(first).toMatchObject({ offset: 1 });
    expect(await publisher.publish('jobs:1', { progress: 10 }, { idempotencyKey: 'a' })).toEqual({
      ...first,
      duplicate: true,
    });
    const results = await publisher.broadcast(['jobs:1', 'jobs:2'], 'all');
    expect(results).toMatchObject([{ offset: 2 }, { offset: 1 }]);

    const history = await publisher.history('jobs:1');
    expect(history.publications.map((p) => [p.offset, p.event, p.data])).toEqual([
      [1, 'progress', { progress: 10 }],
      [2, undefined, 'all'],
    ]);
    expect(await publisher.presence('jobs:1')).toEqual({});
    expect((await rejection(publisher.publish('no spaces', 1))).code).toBe('invalid_channel');
  });
});

describe('a publisher with channels', () => {
  const channels = defineChannels({ 'jobs:*': { progress: z.object({ percent: z.number().max(100) }) } });

  it('checks data before sending it, so a remote hub without schemas never gets bad data', async () => {
    const hub = await start();
    const publisher = createPublisher({ url: hub.url, channels });
    const refused = await rejection(publisher.publish('jobs:1', { percent: 101 }, { event: 'progress' }));
    expect(refused.code).toBe('invalid_data');
    expect(refused.message).toMatch(/^data of progress on jobs:1 at percent: /);
    expect(
      (await rejection(publisher.publish('jobs:1', { percent: 1 }, { event: 'done' as 'progress' }))).code,
    ).toBe('invalid_event');
    expect(await publisher.publish('jobs:1', { percent: 50 }, { event: 'progress' })).toMatchObject({
      offset: 1,
    });
    // Opting out skips the publisher's check and the hub's.
    const raw = await publisher.publish(
      'jobs:1',
      { percent: 'any' as unknown as number },
      {
        event: 'progress',
        validate: false,
      },
    );
    expect(raw).toMatchObject({ offset: 2 });
    expect((await publisher.history('jobs:1')).publications.map((p) => p.data)).toEqual([
      { percent: 50 },
      { percent: 'any' },
    ]);
  });

  it('gives them to the process-wide hub, whichever module reached it first', async () => {
    const hub = await getHub(); // e.g. the route handler, before any Server Action ran
    onCleanup(closeHub);
    expect(hub.schemas).toEqual([]);
    const publisher = createPublisher({ channels });
    await publisher.publish('jobs:2', { percent: 5 }, { event: 'progress' });
    expect(hub.schemas).toEqual([channels]);
    // Now the hub itself refuses what a client (or an untyped publisher) sends.
    const plain = createPublisher({ hub });
    expect((await rejection(plain.publish('jobs:2', { percent: 'x' }, { event: 'progress' }))).code).toBe(
      'invalid_data',
    );
  });
});

describe('history the hub sends in pages', () => {
  it('is read whole, in process and over the HTTP API', async () => {
    const hub = await start({ maxQueueBytes: 64 * 1024 });
    const chunk = 'x'.repeat(4 * 1024);
    for (let i = 0; i < 40; i++) await hub.publish('log:paged', { chunk });
    // One reply holds at most 32 KiB here: 7 of these.
    expect((await hub.server.hub.history('log:paged', {})).next).toBeDefined();
    for (const publisher of [createPublisher({ hub: hub.server.hub }), createPublisher({ url: hub.url })]) {
      const all = await publisher.history('log:paged');
      expect(all.publications.map((p) => p.offset)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      const newest = await publisher.history('log:paged', { reverse: true, limit: 20 });
      expect(newest.publications.map((p) => p.offset)).toEqual(Array.from({ length: 20 }, (_, i) => 40 - i));
    }
  });
});

describe('remote publisher over the HTTP API', () => {
  it('authorises with the API key and surfaces the hub error codes', async () => {
    const hub = await start({ apiKey: 'secret' });
    const publisher = createPublisher({ url: hub.url, apiKey: 'secret' });
    expect(await publisher.publish('feed:1', 'x')).toMatchObject({ offset: 1 });
    expect((await publisher.history('feed:1')).publications).toHaveLength(1);

    const wrongKey = createPublisher({ url: hub.url, apiKey: 'nope' });
    const err = await rejection(wrongKey.publish('feed:1', 'y'));
    expect(err.code).toBe('unauthorized');
    expect((await rejection(publisher.publish('feed:1', 'z'.repeat(70_000)))).code).toBe('payload_too_large');
  });

  it('retries a publish whose response was lost, and the hub delivers it once', async () => {
    const hub = await start();
    // A proxy that forwards the first request, then cuts the connection instead of answering.
    let requests = 0;
    const flaky = createServer(async (req, res) => {
      requests++;
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const upstream = await fetch(`${hub.url}${req.url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      });
      if (requests === 1) {
        res.socket?.destroy();
        return;
      }
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(await upstream.text());
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise((resolve) => flaky.close(resolve)));
    const port = (flaky.address() as { port: number }).port;

    const publisher = createPublisher({ url: `http://127.0.0.1:${port}` });
    const result = await publisher.publish('chat:retry', 'once');
    expect(requests).toBe(2);
    expect(result).toMatchObject({ offset: 1, duplicate: true });
    const history = await createPublisher({ url: hub.url }).history('chat:retry');
    expect(history.publications.map((p) => p.data)).toEqual(['once']);
  });

  it('reports an unreachable hub as unavailable after its retries', async () => {
    const port = await freePort();
    const publisher = createPublisher({ url: `http://127.0.0.1:${port}`, retries: 1 });
    const err = await rejection(publisher.publish('feed:1', 'x'));
    expect(err.code).toBe('unavailable');
  });

  describe('with HERALD_URL in the environment', () => {
    const saved = { url: process.env.HERALD_URL, key: process.env.HERALD_API_KEY };
    afterEach(() => {
      for (const [name, value] of [
        ['HERALD_URL', saved.url],
        ['HERALD_API_KEY', saved.key],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });

    it('the default publisher talks to that hub', async () => {
      const hub = await start({ apiKey: 'env-key' });
      process.env.HERALD_URL = hub.url;
      process.env.HERALD_API_KEY = 'env-key';
      expect(await createPublisher().publish('feed:env', 1)).toMatchObject({ offset: 1 });
      expect((await hub.server.hub.history('feed:env', {})).offset).toBe(1);
    });
  });
});
