/** The kinds of Pusher channels, by the prefix of their name. */
export interface PusherChannelKind {
  /** `private-…` and `presence-…`: the app's auth endpoint signs each subscription. */
  signed: boolean;
  presence: boolean;
  /** `cache-`, `private-cache-`, `presence-cache-`: a subscriber gets the last event first. */
  cache: boolean;
  /** `private-encrypted-…`: end-to-end encrypted by the clients, which Herald does not support. */
  encrypted: boolean;
  /** `#server-to-user-<id>`: the events for one signed-in user. */
  user: boolean;
}

/** Pusher's rule: up to 200 characters of A-Z a-z 0-9 _ - = @ , . ; (every one a Herald channel name too). */
const NAME = /^[A-Za-z0-9_\-=@,.;]{1,200}$/;
export const USER_CHANNEL_PREFIX = '#server-to-user-';

export function isPusherChannel(name: string): boolean {
  return NAME.test(name) || (name.startsWith(USER_CHANNEL_PREFIX) && NAME.test(name.slice(1)));
}

export const CHANNEL_RULE = 'channel names are 1-200 characters of A-Z a-z 0-9 _ - = @ , . ;';

export function channelKind(name: string): PusherChannelKind {
  const presence = name.startsWith('presence-');
  const isPrivate = name.startsWith('private-');
  return {
    signed: presence || isPrivate,
    presence,
    cache:
      name.startsWith('cache-') || name.startsWith('private-cache-') || name.startsWith('presence-cache-'),
    encrypted: name.startsWith('private-encrypted-'),
    user: name.startsWith(USER_CHANNEL_PREFIX),
  };
}
