import { describe, expect, it } from 'vitest';
import { hubPerTest } from './support/hub.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

describe('malformed WebSocket frames', () => {
  const cases: Array<[string, string, string]> = [
    ['not JSON', '{"id":1,', 'bad_json'],
    ['a JSON array', '[1,2]', 'bad_request'],
    ['unknown type', '{"id":1,"type":"explode"}', 'unknown_command'],
    ['missing id', '{"type":"subscribe","channel":"a:b"}', 'bad_request'],
    ['channel of the wrong type', '{"id":1,"type":"subscribe","channel":42}', 'bad_request'],
    ['invalid channel name', '{"id":1,"type":"subscribe","channel":"a b/c"}', 'invalid_channel'],
    [
      'since of the wrong shape',
      '{"id":1,"type":"subscribe","channel":"a:b","since":{"epoch":1}}',
      'bad_request',
    ],
    [
      'negative offset',
      '{"id":1,"type":"subscribe","channel":"a:b","since":{"epoch":"x","offset":-1}}',
      'bad_request',
    ],
    ['publish without data', '{"id":1,"type":"publish","channel":"a:b"}', 'bad_request'],
    ['unexpected field', '{"id":1,"type":"ping","admin":true}', 'bad_request'],
    [
      'history limit of the wrong type',
      '{"id":1,"type":"history","channel":"a:b","limit":"all"}',
      'bad_request',
    ],
    ['unsubscribe from nothing', '{"id":1,"type":"unsubscribe","channel":"a:b"}', 'not_subscribed'],
  ];

  it.each(cases)('%s gets %s', async (_name, frame, code) => {
    const hub = await hubs.start();
    const bystander = await WsTestClient.open(hub.wsUrl);
    await bystander.call('subscribe', { channel: 'a:b' });
    const c = await WsTestClient.open(hub.wsUrl);
    c.sendRaw(frame);
    const error = await c.waitFor((f) => 'error' in f && f.error !== undefined);
    expect((error.error as { code: string }).code).toBe(code);
    // The offending connection stays usable and the others are not disturbed.
    expect(await c.call('ping')).toEqual({});
    await hub.publish('a:b', 'still here');
    await eventually(() => bystander.publications.length === 1, 'bystander still receives');
    c.close();
    bystander.close();
  });

  it('answers a binary frame with an error', async () => {
    const hub = await hubs.start();
    const c = await WsTestClient.open(hub.wsUrl);
    c.sendRaw(Buffer.from([1, 2, 3]));
    const error = await c.waitFor((f) => f.type === 'error');
    expect(error).toMatchObject({ error: { code: 'bad_request' } });
    c.close();
  });

  it('refuses subscribing twice to one channel', async () => {
    const hub = await hubs.start();
    const c = await WsTestClient.open(hub.wsUrl);
    await c.call('subscribe', { channel: 'a:b' });
    expect((await c.command('subscribe', { channel: 'a:b' })).error).toMatchObject({
      code: 'already_subscribed',
    });
    c.close();
  });

  it('refuses channels of a namespace the config does not know', async () => {
    const hub = await hubs.start({ namespaces: { chat: {} } });
    const c = await WsTestClient.open(hub.wsUrl);
    expect((await c.command('subscribe', { channel: 'other:x' })).error).toMatchObject({
      code: 'unknown_namespace',
    });
    expect(await c.call('subscribe', { channel: 'chat:x' })).toMatchObject({ offset: 0 });
    c.close();
  });
});

describe('HTTP API errors', () => {
  async function post(url: string, body: string, headers: Record<string, string> = {}) {
    const res = await fetch(url, { method: 'POST', body, headers });
    return { status: res.status, body: await res.json() };
  }

  it('answers bad JSON 400, bad key 401, unknown namespace 404, unknown method 404, wrong verb 405', async () => {
    const hub = await hubs.start({ apiKey: 'secret', namespaces: { chat: {} } });
    const auth = { authorization: 'apikey secret', 'content-type': 'application/json' };
    expect(await post(`${hub.url}/api/publish`, '{nope', auth)).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_json' } },
    });
    expect(
      await post(`${hub.url}/api/publish`, '{"channel":"chat:1","data":1}', {
        authorization: 'apikey wrong',
      }),
    ).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized' } },
    });
    expect(await post(`${hub.url}/api/publish`, '{"channel":"chat:1","data":1}')).toMatchObject({
      status: 401,
    });
    expect(await post(`${hub.url}/api/publish`, '{"channel":"nope:1","data":1}', auth)).toMatchObject({
      status: 404,
      body: { error: { code: 'unknown_namespace' } },
    });
    expect(await post(`${hub.url}/api/publish`, '{"channel":"chat:1"}', auth)).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_request' } },
    });
    expect(await post(`${hub.url}/api/nothing`, '{}', auth)).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    const get = await fetch(`${hub.url}/api/publish`, { headers: auth });
    expect(get.status).toBe(405);
    expect(await post(`${hub.url}/api/publish`, '{"channel":"chat:1","data":{"a":1}}', auth)).toMatchObject({
      status: 200,
      body: { offset: 1 },
    });
    const history = await post(`${hub.url}/api/history`, '{"channel":"chat:1"}', auth);
    expect(history.body.publications).toHaveLength(1);
    expect((await post(`${hub.url}/api/channels`, '{}', auth)).body.channels).toContain('chat:1');
  });

  it('answers unknown paths with 404 in the error shape', async () => {
    const hub = await hubs.start();
    const res = await fetch(`${hub.url}/nope`);
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('not_found');
    const health = await fetch(`${hub.url}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok' });
  });
});
