import { describe, expect, it } from 'vitest';
import { hubPerTest } from './support/hub.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

describe('idempotent publish', () => {
  it('a repeated key returns the first position and delivers nothing (WebSocket)', async () => {
    const hub = await hubs.start();
    const sub = await WsTestClient.open(hub.wsUrl);
    await sub.call('subscribe', { channel: 'chat:1' });
    const pub = await WsTestClient.open(hub.wsUrl);
    const first = await pub.call('publish', { channel: 'chat:1', data: 'hello', idempotencyKey: 'msg-1' });
    const again = await pub.call('publish', { channel: 'chat:1', data: 'hello', idempotencyKey: 'msg-1' });
    expect(again).toEqual({ ...first, duplicate: true });
    const other = await pub.call<{ offset: number }>('publish', {
      channel: 'chat:1',
      data: 'x',
      idempotencyKey: 'msg-2',
    });
    expect(other.offset).toBe((first.offset as number) + 1);
    await eventually(() => sub.publications.length === 2, 'two distinct publications');
    expect(sub.publications.map((p) => p.data)).toEqual(['hello', 'x']);
    sub.close();
    pub.close();
  });

  it('concurrent retries with one key publish once (HTTP API)', async () => {
    const hub = await hubs.start();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => hub.publish('chat:2', { text: 'once' }, { idempotencyKey: 'k' })),
    );
    expect(new Set(results.map((r) => r.offset))).toEqual(new Set([1]));
    const history = await hub.server.hub.history('chat:2', {});
    expect(history.publications).toHaveLength(1);
  });

  it('keys are per channel and forgotten after the window', async () => {
    const hub = await hubs.start({ idempotencyWindow: 0.2 });
    const a = await hub.publish('chat:a', 1, { idempotencyKey: 'k' });
    const b = await hub.publish('chat:b', 1, { idempotencyKey: 'k' });
    expect(a.offset).toBe(1);
    expect(b.offset).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    const later = await hub.publish('chat:a', 1, { idempotencyKey: 'k' });
    expect(later).toMatchObject({ offset: 2 });
  });
});

describe('payload limit', () => {
  it('rejects oversized data over WebSocket with payload_too_large and keeps the connection', async () => {
    const hub = await hubs.start({ maxPayloadBytes: 1000 });
    const c = await WsTestClient.open(hub.wsUrl);
    const reply = await c.command('publish', { channel: 'chat:1', data: 'x'.repeat(2000) });
    expect(reply.error).toMatchObject({ code: 'payload_too_large' });
    const ok = await c.call('publish', { channel: 'chat:1', data: 'x'.repeat(900) });
    expect(ok).toMatchObject({ offset: 1 });
    c.close();
  });

  it('rejects oversized data over the HTTP API with 413', async () => {
    const hub = await hubs.start({ maxPayloadBytes: 1000 });
    const res = await fetch(`${hub.url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'chat:1', data: 'x'.repeat(2000) }),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('payload_too_large');
    const huge = await fetch(`${hub.url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(200_000),
    });
    expect(huge.status).toBe(413);
  });
});
