import { describe, expect, test } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { configFromEnv } from '../../src/config-sources.ts';
import { APP } from '../support/pusher.ts';
import { webhookSecret } from '../support/webhook-receiver.ts';

describe('Pusher apps in the config', () => {
  test('one app from HERALD_PUSHER_APP_ID, _KEY and _SECRET; all three or none', () => {
    const env = {
      HERALD_PUSHER_APP_ID: '1',
      HERALD_PUSHER_APP_KEY: 'k',
      HERALD_PUSHER_APP_SECRET: 'secret-123',
    };
    const config = parseConfig(configFromEnv(env));
    expect(config.pusher?.apps).toEqual([
      {
        id: '1',
        key: 'k',
        secret: 'secret-123',
        clientEvents: false,
        clientEventRate: 10,
        userAuthentication: 'optional',
        signinTimeout: 30,
        maxPresenceMembers: 100,
        webhooks: [],
      },
    ]);
    expect(config.pusher?.activityTimeout).toBe(120);
    expect(() => configFromEnv({ HERALD_PUSHER_APP_ID: '1' })).toThrow(
      new ConfigError(
        'set all of HERALD_PUSHER_APP_ID, HERALD_PUSHER_APP_KEY, HERALD_PUSHER_APP_SECRET for a Pusher app, or none',
      ),
    );
    expect(configFromEnv({}).pusher).toBeUndefined();
  });

  test("an app's webhooks take a URL and Pusher's event names, with the delivery defaults", () => {
    const url = 'https://app.example.com/pusher';
    const config = parseConfig({
      pusher: { apps: [{ ...APP, webhooks: [{ url, events: ['cache_miss'] }] }] },
    });
    // The delivery settings default as a lifecycle webhook's do.
    const { secret: _, ...delivery } = parseConfig({ webhooks: [{ url, secret: webhookSecret() }] })
      .webhooks[0];
    expect(config.pusher?.apps[0].webhooks).toEqual([{ ...delivery, events: ['cache_miss'] }]);
    const bad = (webhook: unknown) => () =>
      parseConfig({ pusher: { apps: [{ ...APP, webhooks: [webhook] }] } }, 'herald.json');
    expect(bad({ url, events: ['channel.occupied'] })).toThrow(
      /herald\.json: pusher\.apps\.0\.webhooks\.0\.events\.0: /,
    );
    expect(bad({ url: 'ftp://x' })).toThrow(
      'herald.json: pusher.apps.0.webhooks.0.url: must be an http:// or https:// URL',
    );
    expect(bad({ url, secret: 'whsec_x' })).toThrow(/pusher\.apps\.0\.webhooks\.0: Unrecognized key/);
  });

  test('Pusher channels get namespace "" with presence and join/leave, from "*" when it is not listed', () => {
    const config = parseConfig({ pusher: { apps: [APP] }, namespaces: { '*': { historySize: 5 } } });
    expect(config.namespaces['']).toMatchObject({ historySize: 5, presence: true, joinLeave: true });
    expect(parseConfig({}).namespaces['']).toBeUndefined();
    expect(() =>
      parseConfig({ pusher: { apps: [APP] }, namespaces: { '': { presence: false } } }, 'herald.json'),
    ).toThrow(
      /herald.json: namespaces."": Pusher channels live in namespace "" and need presence: true and joinLeave: true/,
    );
  });

  test('bad apps are refused with the field that is wrong', () => {
    expect(() => parseConfig({ pusher: { apps: [APP, APP] } })).toThrow(/pusher.apps: app keys must differ/);
    expect(() => parseConfig({ pusher: { apps: [{ ...APP, secret: 'short' }] } })).toThrow(
      /pusher.apps.0.secret: must be at least 8 characters/,
    );
    expect(() => parseConfig({ pusher: { apps: [] } })).toThrow(/pusher.apps/);
  });
});
