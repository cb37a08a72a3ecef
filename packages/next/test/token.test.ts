import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clientPerTest, connected, waitForState } from '../../client/test/support/client.ts';
import { hubPerTest } from '../../server/test/support/hub.ts';
import { SECRET } from '../../server/test/support/tokens.ts';
import { eventually } from '../../server/test/support/ws-client.ts';
import { connectionToken } from '../src/token.ts';

const hubs = hubPerTest();
const client = clientPerTest();

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('connectionToken', () => {
  it('signs with HERALD_TOKEN_SECRET a token the hub accepts as the user, info shown in presence', async () => {
    vi.stubEnv('HERALD_TOKEN_SECRET', SECRET);
    const hub = await hubs.start({ tokenSecret: SECRET });
    const c = client({ url: hub.url, getToken: () => connectionToken('alice', { info: { name: 'Alice' } }) });
    const state = await waitForState(c, connected());
    expect(state).toMatchObject({ user: 'alice' });
    const sub = c.subscribe('room:1', {});
    await eventually(() => sub.status === 'subscribed', 'subscribed');
    expect(await c.presence('room:1')).toMatchObject([{ user: 'alice', info: { name: 'Alice' } }]);
  });

  it('lasts 15 minutes unless told otherwise', async () => {
    const standard = decodeJwt(await connectionToken('bob', { secret: SECRET }));
    expect(standard.sub).toBe('bob');
    expect(standard.exp! - standard.iat!).toBe(15 * 60);
    const short = decodeJwt(await connectionToken('bob', { secret: SECRET, expiresIn: 90 }));
    expect(short.exp! - short.iat!).toBe(90);
  });

  it('is refused by a hub with another secret', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const other = 'another-secret-that-is-at-least-32-characters';
    const c = client({ url: hub.url, getToken: () => connectionToken('mallory', { secret: other }) });
    const state = await waitForState(c, (s) => s.status === 'disconnected');
    expect(state).toMatchObject({ code: 4501, reconnect: false });
  });

  it('refuses to sign without a secret of at least 32 characters, or for an empty user', async () => {
    vi.stubEnv('HERALD_TOKEN_SECRET', '');
    await expect(connectionToken('alice')).rejects.toThrow(/HERALD_TOKEN_SECRET .*at least 32 characters/);
    await expect(connectionToken('alice', { secret: 'short' })).rejects.toThrow(/at least 32 characters/);
    await expect(connectionToken('', { secret: SECRET })).rejects.toThrow(/non-empty user id/);
  });
});
