// Type tests: `npm run typecheck` checks this file (test/types/tsconfig.json), and every
// `@ts-expect-error` below fails it if the line it marks ever compiles. Vitest runs it too, where each
// `expectTypeOf` is a no-op and the refused calls sit in functions never called.
import { createClient, type HeraldClient } from '@herald/client';
import { createPublisher, type Publisher } from '@herald/next';
import type { Publication, PublishResult } from '@herald/protocol';
import { type HookPublication, useChannel, usePublish, useStream } from '@herald/react';
import { describe, expectTypeOf, it } from 'vitest';
import { channels } from './channels.ts';

type Message = { text: string; at: number };

describe('a typed publisher (createPublisher({ channels }))', () => {
  const herald = createPublisher({ hub: () => Promise.reject(new Error('types only')), channels });

  it('accepts the data of each event of each described channel', () => {
    expectTypeOf(herald.publish)
      .parameter(0)
      .toEqualTypeOf<`chat:${string}` | `notifications:#${string}` | 'chat:lobby'>();
    const ok = () => {
      void herald.publish('chat:room-1', { text: 'hi' }, { event: 'message' }); // `at` has a default
      void herald.publish(`chat:${String(1)}`, { user: 'ann' }, { event: 'typing' });
      void herald.publish('notifications:#42', { title: 't', read: false }, { event: 'notification' });
      void herald.publish('chat:lobby', { text: 'welcome' }, { event: 'announcement' });
      void herald.broadcast(['chat:a', 'chat:b'], { text: 'x' }, { event: 'message', validate: false });
    };
    expectTypeOf(ok).toBeFunction();
    type Result = ReturnType<typeof herald.publish<'chat:1', 'message'>>;
    expectTypeOf<Result>().resolves.toEqualTypeOf<PublishResult>();
  });

  it('refuses a wrong shape, an unknown event, an undescribed channel, a missing event', () => {
    const refused = () => {
      // @ts-expect-error text must be a string
      void herald.publish('chat:room-1', { text: 1 }, { event: 'message' });
      // @ts-expect-error typing's data is { user }
      void herald.publish('chat:room-1', { text: 'hi' }, { event: 'typing' });
      // @ts-expect-error chat has no event "notification"
      void herald.publish('chat:room-1', { title: 't', read: true }, { event: 'notification' });
      // @ts-expect-error feed:* is not described
      void herald.publish('feed:log', { text: 'hi' }, { event: 'message' });
      // @ts-expect-error the event is required
      void herald.publish('chat:room-1', { text: 'hi' });
      // @ts-expect-error chat:* is public: a private chat channel is not described
      void herald.publish('chat:#42', { text: 'hi' }, { event: 'message' });
      // @ts-expect-error the exact entry wins over chat:*: the lobby has announcements only
      void herald.publish('chat:lobby', { text: 'hi' }, { event: 'message' });
    };
    expectTypeOf(refused).toBeFunction();
  });

  it('types history by the channel', async () => {
    type History = Awaited<ReturnType<typeof herald.history<'notifications:#42'>>>;
    expectTypeOf<History['publications'][number]['data']>().toEqualTypeOf<{ title: string; read: boolean }>();
    expectTypeOf<History['publications'][number]['event']>().toEqualTypeOf<'notification'>();
  });

  it('leaves the untyped publisher as it was', () => {
    expectTypeOf(createPublisher()).toEqualTypeOf<Publisher>();
    expectTypeOf(createPublisher().publish).parameter(1).toBeUnknown();
  });
});

describe('a typed client (createClient({ channels }))', () => {
  const client = createClient({ url: 'http://127.0.0.1:1', autoConnect: false, channels });

  it('narrows a publication by its event', () => {
    const listen = () =>
      client.subscribe('chat:room-1', {
        onPublication: (pub) => {
          expectTypeOf(pub.event).toEqualTypeOf<'message' | 'typing'>();
          if (pub.event === 'message') expectTypeOf(pub.data).toEqualTypeOf<Message>();
          else expectTypeOf(pub.data).toEqualTypeOf<{ user: string }>();
          expectTypeOf(pub.offset).toBeNumber();
        },
      });
    expectTypeOf(listen).toBeFunction();
  });

  it('publishes only the described shapes', () => {
    const calls = () => {
      client.publish('chat:room-1', { text: 'hi', at: 1 }, { event: 'message', id: 'm1' });
      // @ts-expect-error a notification needs `read`
      client.publish('notifications:#42', { title: 't' }, { event: 'notification' });
      // @ts-expect-error not a described channel
      client.subscribe('feed:log');
    };
    expectTypeOf(calls).toBeFunction();
  });

  it('leaves the untyped client as it was', () => {
    const plain = createClient({ url: 'http://127.0.0.1:1', autoConnect: false });
    expectTypeOf(plain).toEqualTypeOf<HeraldClient>();
    const listen = () =>
      plain.subscribe('anything', { onPublication: (pub) => expectTypeOf(pub).toEqualTypeOf<Publication>() });
    expectTypeOf(listen).toBeFunction();
  });
});

describe('hooks typed by Register', () => {
  it('useChannel hands out the union of the channel’s events, narrowed by event', () => {
    const Component = () => {
      useChannel('chat:room-1', (pub) => {
        if (pub.event === 'typing') expectTypeOf(pub.data).toEqualTypeOf<{ user: string }>();
        else expectTypeOf(pub.data).toEqualTypeOf<Message>();
      });
      useChannel(null);
      // @ts-expect-error an undescribed channel
      useChannel('feed:log');
    };
    expectTypeOf(Component).toBeFunction();
    expectTypeOf<HookPublication<'notifications:#7'>['data']>().toEqualTypeOf<{
      title: string;
      read: boolean;
    }>();
  });

  it('useStream folds typed publications', () => {
    const Component = () => {
      const { value, last } = useStream<string, 'chat:room-1'>('chat:room-1', {
        initial: '',
        reduce: (text, pub) => (pub.event === 'message' ? text + pub.data.text : text),
      });
      expectTypeOf(value).toBeString();
      expectTypeOf(last).toEqualTypeOf<HookPublication<'chat:room-1'> | undefined>();
    };
    expectTypeOf(Component).toBeFunction();
  });

  it('usePublish requires the event and its shape', () => {
    const Component = () => {
      const { publish } = usePublish('chat:room-1');
      publish({ user: 'ann' }, { event: 'typing' });
      // @ts-expect-error typing's data is { user }
      publish({ text: 'hi' }, { event: 'typing' });
      // @ts-expect-error the event is required
      publish({ text: 'hi' });
    };
    expectTypeOf(Component).toBeFunction();
  });
});
