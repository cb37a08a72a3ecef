import { decodeCursor, type SseConnectedEvent } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { RawSseStream } from './support/sse-client.ts';
import { inSeconds, SECRET, sign } from './support/tokens.ts';
import { eventually } from './support/ws-client.ts';

const hubs = hubPerTest();

async function act(
  hub: TestHub,
  action: string,
  body: Record<string, unknown>,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string } } }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${hub.url}/connection/${action}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function openStream(hub: TestHub, query: string): Promise<{ stream: RawSseStream; session: string }> {
  const stream = await RawSseStream.open(`${hub.url}/connection/sse?${query}`);
  await eventually(() => stream.controls.length > 0, 'connected');
  return { stream, session: (stream.controls[0] as SseConnectedEvent).session };
}

describe('client actions over HTTP: POST /connection/{publish,subscribe,unsubscribe,refresh,history,presence}', () => {
  it('subscribes and unsubscribes channels on a live SSE stream; the cursor follows', async () => {
    const hub = await hubs.start();
    const { stream, session } = await openStream(hub, 'channel=act:a');
    const earlier = await hub.publish('act:b', 'earlier');

    const subscribed = await act(hub, 'subscribe', { session, channel: 'act:b' });
    expect(subscribed).toEqual({
      status: 200,
      body: { type: 'subscribed', channel: 'act:b', epoch: earlier.epoch, offset: 1 },
    });
    await eventually(
      () => stream.controls.some((c) => c.type === 'subscribed' && c.channel === 'act:b'),
      'announced',
    );
    const b = await hub.publish('act:b', 'live');
    await eventually(() => stream.publications.length === 1, 'the new channel delivers');
    expect(stream.publications[0]).toMatchObject({ channel: 'act:b', offset: 2, data: 'live' });
    expect(decodeCursor(stream.lastEventId as string).position('act:b')).toEqual(b);

    expect(await act(hub, 'unsubscribe', { session, channel: 'act:b' })).toEqual({ status: 200, body: {} });
    await hub.publish('act:b', 'not for us');
    const a = await hub.publish('act:a', 'still');
    await eventually(() => stream.publications.length === 2, 'the remaining channel delivers');
    expect(stream.publications[1]).toMatchObject({ channel: 'act:a', data: 'still' });
    expect(stream.controls.at(-1)).toEqual({ type: 'unsubscribed', channel: 'act:b' });
    const cursor = decodeCursor(stream.lastEventId as string);
    expect(cursor.position('act:b')).toBeUndefined();
    expect(cursor.position('act:a')).toEqual(a);

    // Resubscribing from a known position recovers what was missed, on the stream, in order.
    const again = await act(hub, 'subscribe', { session, channel: 'act:b', since: b });
    expect(again.body).toMatchObject({ channel: 'act:b', offset: 3, recovered: true });
    await eventually(() => stream.publications.length === 3, 'recovered publication');
    expect(stream.publications[2]).toMatchObject({ channel: 'act:b', offset: 3, data: 'not for us' });
    await stream.close();
  });

  it('publishes with the client rules and limits, with or without a stream', async () => {
    const hub = await hubs.start({
      tokenSecret: SECRET,
      namespaces: { '*': {}, room: { publish: 'authenticated' } },
      limits: { publishRate: 1, publishBurst: 2 },
    });
    const alice = await sign({ sub: 'alice', exp: inSeconds(600) });
    expect((await act(hub, 'publish', { channel: 'room:1', data: 'x' })).body.error?.code).toBe('forbidden');
    const ok = await act(hub, 'publish', { channel: 'room:1', data: 'hi', idempotencyKey: 'k1' }, alice);
    expect(ok).toEqual({ status: 200, body: { epoch: expect.any(String), offset: 1 } });
    const again = await act(hub, 'publish', { channel: 'room:1', data: 'hi', idempotencyKey: 'k1' }, alice);
    expect(again.body).toMatchObject({ offset: 1, duplicate: true });

    const { stream, session } = await openStream(hub, `channel=room:1&token=${alice}`);
    expect((await act(hub, 'publish', { session, channel: 'room:1', data: 1 }, alice)).status).toBe(200);
    expect((await act(hub, 'publish', { session, channel: 'room:1', data: 2 }, alice)).status).toBe(200);
    // The stream's session has a publish rate, as a WebSocket has.
    const limited = await act(hub, 'publish', { session, channel: 'room:1', data: 3 }, alice);
    expect([limited.status, limited.body.error?.code]).toEqual([429, 'rate_limited']);
    await eventually(() => stream.publications.length === 2, 'own publications on the stream');
    await stream.close();
  });

  it("acts on a stream only for the stream's own user", async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const alice = await sign({ sub: 'alice', exp: inSeconds(600) });
    const bob = await sign({ sub: 'bob', exp: inSeconds(600) });
    const { stream, session } = await openStream(hub, `channel=act:a&token=${alice}`);
    expect((await act(hub, 'subscribe', { session, channel: 'act:b' })).body.error?.code).toBe('forbidden');
    expect((await act(hub, 'subscribe', { session, channel: 'act:b' }, bob)).body.error?.code).toBe(
      'forbidden',
    );
    expect((await act(hub, 'subscribe', { session, channel: 'act:b' }, alice)).status).toBe(200);
    expect((await act(hub, 'subscribe', { session, channel: 'act:b' }, alice)).body.error?.code).toBe(
      'already_subscribed',
    );
    // refresh brings the stream's new token, for the same user only.
    const expires = inSeconds(1200);
    const fresh = await sign({ sub: 'alice', exp: expires });
    expect((await act(hub, 'refresh', { session, token: fresh })).body).toEqual({ expires });
    expect((await act(hub, 'refresh', { session, token: bob })).body.error?.code).toBe('forbidden');
    await stream.close();
  });

  it('reads history and presence, on a stream or standalone, under the read rules', async () => {
    const hub = await hubs.start({
      tokenSecret: SECRET,
      namespaces: { '*': {}, members: { subscribe: 'authenticated' } },
    });
    const alice = await sign({ sub: 'alice', exp: inSeconds(600) });
    await hub.publish('members:1', 'a');
    await hub.publish('members:1', 'b');
    expect((await act(hub, 'history', { channel: 'members:1' })).body.error?.code).toBe('forbidden');
    const page = await act(hub, 'history', { channel: 'members:1', limit: 1, reverse: true }, alice);
    expect(page.body).toMatchObject({ offset: 2, publications: [{ offset: 2, data: 'b' }] });

    const { stream, session } = await openStream(hub, `channel=members:1&token=${alice}`);
    const since = { epoch: page.body.epoch, offset: 1 };
    const missed = await act(hub, 'history', { session, channel: 'members:1', since }, alice);
    expect((missed.body.publications as Array<{ data: unknown }>).map((p) => p.data)).toEqual(['b']);
    const presence = await act(hub, 'presence', { session, channel: 'members:1' }, alice);
    expect(Object.values(presence.body.members as object)).toMatchObject([{ user: 'alice' }]);
    expect((await act(hub, 'presence', { channel: 'members:1' }, alice)).status).toBe(200);
    await stream.close();
  });

  it('refuses unknown streams, missing or unexpected fields and other methods', async () => {
    const hub = await hubs.start();
    const { stream, session } = await openStream(hub, 'channel=act:a');
    const code = async (action: string, body: Record<string, unknown>) => {
      const res = await act(hub, action, body);
      return [res.status, res.body.error?.code];
    };
    expect(await code('subscribe', { session: 'nope', channel: 'act:b' })).toEqual([404, 'not_found']);
    expect(await code('subscribe', { channel: 'act:b' })).toEqual([400, 'bad_request']);
    expect(await code('unsubscribe', { session })).toEqual([400, 'bad_request']);
    expect(await code('unsubscribe', { session, channel: 'act:zzz' })).toEqual([409, 'not_subscribed']);
    expect(await code('subscribe', { session, channel: 'act:b', extra: 1 })).toEqual([400, 'bad_request']);
    expect(await code('subscribe', { session, channel: 'bad channel' })).toEqual([400, 'invalid_channel']);
    expect(await code('publish', { channel: 'act:a' })).toEqual([400, 'bad_request']);
    expect(await code('publish', { channel: 'act:a', data: 1, event: 'herald' })).toEqual([
      400,
      'invalid_event',
    ]);
    const get = await fetch(`${hub.url}/connection/publish`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    const notJson = await fetch(`${hub.url}/connection/publish`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    // The stream is untouched by all that.
    await hub.publish('act:a', 'fine');
    await eventually(() => stream.publications.length === 1, 'still delivering');
    await stream.close();
  });
});
