import type { Publication } from '@herald/protocol';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { hubPerTest, type TestHub } from '../../server/test/support/hub.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import { type HeraldClientError, indexedDbOutboxStore, type OutboxMessage } from '../src/index.ts';
import {
  clientPerTest,
  connected,
  isPublishReply,
  tamperedWebSocket,
  waitForState,
} from './support/client.ts';

const hubs = hubPerTest();
const client = clientPerTest();

/** Everything the channel's stream holds, read with the server API. */
async function published(hub: TestHub, channel: string): Promise<Publication[]> {
  const res = await fetch(`${hub.url}/api/history`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel }),
  });
  return (await res.json()).publications;
}

function recordOutbox(c: { outbox: { on(e: 'change', l: (m: OutboxMessage) => void): () => void } }) {
  const changes: OutboxMessage[] = [];
  c.outbox.on('change', (m) => changes.push(m));
  return changes;
}

describe('outbox', () => {
  it('moves a message sending -> sent and resolves publish with its position', async () => {
    const hub = await hubs.start();
    const c = client({ url: hub.url });
    const changes = recordOutbox(c);
    const result = await c.publish('chat:1', { text: 'hi' }, { id: 'm1' });
    expect(result.offset).toBe(1);
    expect(changes.map((m) => [m.id, m.state])).toEqual([
      ['m1', 'sending'],
      ['m1', 'sent'],
    ]);
    expect(changes[1].result).toMatchObject({ offset: 1 });
    expect(c.pending()).toEqual([]);
  });

  it('holds messages while the hub is down and sends each once, in order, when it is back', async () => {
    const first = await hubs.start();
    const broker = first.server.hub.broker;
    const c = client({ url: first.url });
    await waitForState(c, connected());
    await first.close();
    const sent = ['a', 'b', 'c', 'd'].map((text) => c.publish('chat:2', text));
    expect(c.pending('chat:2').map((m) => m.state)).toEqual(['sending', 'sending', 'sending', 'sending']);
    const second = await hubs.start({}, { port: first.port, broker });
    const results = await Promise.all(sent);
    expect(results.map((r) => r.offset)).toEqual([1, 2, 3, 4]);
    expect((await published(second, 'chat:2')).map((p) => p.data)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('retries a publish whose reply was lost with the same key: published once', async () => {
    const hub = await hubs.start();
    let lost = 0;
    const transport = tamperedWebSocket((frame, deliver, cut) => {
      if (isPublishReply(frame) && lost++ === 0)
        cut(); // the hub published it; the reply never arrives
      else deliver(frame);
    });
    const c = client({ url: hub.url, transports: [transport] });
    const changes = recordOutbox(c);
    const result = await c.publish('chat:3', 'once');
    expect(result).toMatchObject({ offset: 1, duplicate: true });
    expect(lost).toBe(2);
    expect(changes.map((m) => m.state)).toEqual(['sending', 'sent']);
    expect(changes[1].attempts).toBe(2);
    expect((await published(hub, 'chat:3')).map((p) => p.data)).toEqual(['once']);
  });

  it('never doubles a burst across a hub restart', async () => {
    const first = await hubs.start();
    const broker = first.server.hub.broker;
    const c = client({ url: first.url });
    await waitForState(c, connected());
    const sent = Array.from({ length: 40 }, (_, i) => c.publish('chat:4', i));
    await eventually(() => c.pending('chat:4').length <= 30, 'some sent');
    await first.close();
    const second = await hubs.start({}, { port: first.port, broker });
    await Promise.all(sent);
    const pubs = await published(second, 'chat:4');
    expect(pubs.map((p) => p.data)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('fails a refused message without retrying it; retry and cancel are the app’s', async () => {
    const hub = await hubs.start({ maxPayloadBytes: 64 });
    const c = client({ url: hub.url });
    const changes = recordOutbox(c);
    const big = 'x'.repeat(100);
    const refused = c.publish('chat:5', big, { id: 'big' }).catch((e: HeraldClientError) => e);
    const next = c.publish('chat:5', 'small', { id: 'small' });
    expect(((await refused) as HeraldClientError).code).toBe('payload_too_large');
    expect((await next).offset).toBe(1); // a failed message does not block the channel
    expect(c.pending('chat:5')).toMatchObject([{ id: 'big', state: 'failed', attempts: 1 }]);
    const again = await c.outbox.retry('big').catch((e: HeraldClientError) => e);
    expect((again as HeraldClientError).code).toBe('payload_too_large');
    expect(c.outbox.cancel('big')).toBe(true);
    expect(c.pending()).toEqual([]);
    expect(changes.filter((m) => m.id === 'big').map((m) => m.state)).toEqual([
      'sending',
      'failed',
      'sending',
      'failed',
      'cancelled',
    ]);
  });

  it('fails with expired rather than risk a double past the idempotency window', async () => {
    const hub = await hubs.start();
    let replies = 0;
    const transport = tamperedWebSocket((frame, deliver, cut) => {
      if (isPublishReply(frame) && replies++ === 0) cut();
      else deliver(frame);
    });
    const c = client({ url: hub.url, transports: [transport], outbox: { idempotencyWindow: 1 } });
    const failed = await c.publish('chat:6', 'late', { id: 'late' }).catch((e: HeraldClientError) => e);
    expect((failed as HeraldClientError).code).toBe('expired');
    // The app decides to send it anyway: same key, so the hub (which still remembers it) does not double it.
    const result = await c.outbox.retry('late');
    expect(result.duplicate).toBe(true);
    expect((await published(hub, 'chat:6')).map((p) => p.data)).toEqual(['late']);
  });

  it('keeps unfinished messages in IndexedDB across a reload and sends them once', async () => {
    const first = await hubs.start();
    const broker = first.server.hub.broker;
    const indexedDB = new IDBFactory();
    const store = () => indexedDbOutboxStore(first.url, { name: 'herald-test', indexedDB });
    const page1 = client({ url: first.url, outbox: { store: store() } });
    await waitForState(page1, connected());
    await first.close();
    void page1.publish('chat:7', 'written offline', { id: 'offline-1' }).catch(() => undefined);
    void page1.publish('chat:7', 'and another', { id: 'offline-2' }).catch(() => undefined);
    await page1.outbox.loaded;
    await eventually(() => page1.pending().length === 2, 'queued');
    await new Promise((r) => setTimeout(r, 50)); // IndexedDB writes settle
    page1.close(); // the tab reloads

    const second = await hubs.start({}, { port: first.port, broker });
    const page2 = client({ url: first.url, outbox: { store: store() } });
    const changes = recordOutbox(page2);
    await eventually(() => changes.filter((m) => m.state === 'sent').length === 2, 'sent after reload');
    expect(changes.filter((m) => m.state === 'sent').map((m) => m.id)).toEqual(['offline-1', 'offline-2']);
    expect((await published(second, 'chat:7')).map((p) => p.data)).toEqual([
      'written offline',
      'and another',
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(await store().load()).toEqual([]);
  });
});
