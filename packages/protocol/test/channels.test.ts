import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineChannels, issuePath } from '../src/channels.ts';

const channels = defineChannels({
  'chat:*': {
    message: z.object({ text: z.string().max(10), at: z.number().default(0) }),
    typing: z.object({ user: z.string() }),
  },
  'notifications:#*': { notification: z.object({ items: z.array(z.object({ name: z.string() })) }) },
  'feed:*#*': { entry: z.string() },
  'chat:lobby': { announcement: z.string() },
  'slow:*': { checked: z.string().refine(async (s) => s.startsWith('ok'), 'must start with ok') },
});

describe('defineChannels', () => {
  it('finds the entry of a channel: the exact name first, `*` never spanning a #', () => {
    const keyOf = (channel: string) =>
      Object.entries(channels.schemas).find(([, events]) => events === channels.entry(channel))?.[0];
    expect(keyOf('chat:room-1')).toBe('chat:*');
    expect(keyOf('chat:a:b')).toBe('chat:*');
    expect(keyOf('chat:lobby')).toBe('chat:lobby');
    expect(keyOf('chat:#42')).toBeUndefined();
    expect(keyOf('notifications:#42')).toBe('notifications:#*');
    expect(keyOf('notifications:#alice,bob')).toBe('notifications:#*');
    expect(keyOf('notifications:42')).toBeUndefined();
    expect(keyOf('feed:team-1#42')).toBe('feed:*#*');
    expect(keyOf('feed:team-1')).toBeUndefined();
    expect(keyOf('chat:')).toBeUndefined();
    expect(keyOf('other:1')).toBeUndefined();
  });

  it('returns the schema output, and leaves undescribed channels alone', async () => {
    expect(await channels.check('chat:1', 'message', { text: 'hi' })).toEqual({
      value: { text: 'hi', at: 0 },
    });
    expect(await channels.check('other:1', 'anything', 1)).toBeUndefined();
  });

  it('refuses data with invalid_data naming the path of the first issue', () => {
    const refusal = (channel: string, event: string, data: unknown) => {
      try {
        channels.check(channel, event, data);
      } catch (err) {
        return err;
      }
      throw new Error('accepted');
    };
    expect(refusal('chat:1', 'message', { text: 5 })).toMatchObject({
      code: 'invalid_data',
      message: expect.stringMatching(/^data of message on chat:1 at text: /),
    });
    expect(refusal('chat:1', 'message', { text: 'far too long a text' })).toMatchObject({
      message: expect.stringContaining('at text:'),
    });
    expect(
      refusal('notifications:#7', 'notification', { items: [{ name: 'a' }, { name: 2 }] }),
    ).toMatchObject({
      code: 'invalid_data',
      message: expect.stringContaining('at items[1].name:'),
    });
    expect(refusal('chat:lobby', 'announcement', 3)).toMatchObject({
      message: expect.stringContaining('at (root):'),
    });
  });

  it('refuses an event the channel has not, and a publication without one, with invalid_event', () => {
    expect(() => channels.check('chat:1', 'notification', {})).toThrow(
      expect.objectContaining({
        code: 'invalid_event',
        message: 'chat:1 takes events message, typing, not event "notification"',
      }),
    );
    expect(() => channels.check('chat:1', undefined, {})).toThrow(
      expect.objectContaining({
        code: 'invalid_event',
        message: expect.stringContaining('without an event'),
      }),
    );
    expect(() => channels.check('chat:1', 'constructor', {})).toThrow(
      expect.objectContaining({ code: 'invalid_event' }),
    );
  });

  it('waits for asynchronous schemas, and answers synchronous ones at once', async () => {
    expect(channels.check('chat:1', 'typing', { user: 'a' })).toEqual({ value: { user: 'a' } });
    const pending = channels.check('slow:1', 'checked', 'ok then');
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toEqual({ value: 'ok then' });
    await expect(channels.check('slow:1', 'checked', 'no')).rejects.toMatchObject({
      code: 'invalid_data',
      message: 'data of checked on slow:1 at (root): must start with ok',
    });
  });

  it('writes issue paths as JavaScript would', () => {
    expect(issuePath(undefined)).toBe('(root)');
    expect(issuePath(['a', 0, { key: 'b' }, 2, 3])).toBe('a[0].b[2][3]');
    expect(issuePath([0, 'x'])).toBe('[0].x');
  });
});
