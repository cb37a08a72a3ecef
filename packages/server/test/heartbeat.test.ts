import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hubPerTest } from './support/hub.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

describe('heartbeats', () => {
  it('keeps a client that answers pings, and closes one that does not with 4002', async () => {
    const hub = await hubs.start({ pingInterval: 0.1 });
    const answering = await WsTestClient.open(hub.wsUrl); // answers every ping with pong
    await answering.call('subscribe', { channel: 'a:b' });
    const silent = new WebSocket(hub.wsUrl);
    const frames: Array<{ type?: string; code?: number }> = [];
    silent.on('message', (m) => frames.push(JSON.parse(String(m))));
    const closed = new Promise<number>((resolve) => silent.on('close', (code) => resolve(code)));
    await new Promise((r) => silent.once('open', r));
    silent.send(JSON.stringify({ id: 1, type: 'subscribe', channel: 'a:b' }));

    expect(await closed).toBe(4002);
    expect(frames.some((f) => f.type === 'ping')).toBe(true);
    expect(frames.find((f) => f.type === 'disconnect')).toMatchObject({ code: 4002 });
    // The answering client outlived several intervals and still receives.
    await hub.publish('a:b', 'alive');
    await eventually(() => answering.publications.length === 1, 'answering client still subscribed');
    expect(answering.closeCode).toBeUndefined();
    answering.close();
  });
});
