import { HeraldError } from '@herald/protocol';
import type { HeraldConfig, NamespaceOptions } from '../config.ts';

const CHANNEL_PATTERN = /^[A-Za-z0-9_\-.:#@=,;]{1,255}$/;

/** The namespace of `chat:room-1` is `chat`; a channel without a colon is in namespace `""`. */
export function namespaceOf(channel: string): string {
  const colon = channel.indexOf(':');
  return colon === -1 ? '' : channel.slice(0, colon);
}

export function validateChannelName(channel: unknown): string {
  if (typeof channel !== 'string' || !CHANNEL_PATTERN.test(channel)) {
    throw new HeraldError(
      'invalid_channel',
      'channel must be 1-255 characters of A-Z a-z 0-9 _ - . : # @ = , ;',
    );
  }
  return channel;
}

/** Resolves a channel's namespace rules, or throws `unknown_namespace`. */
export function resolveNamespace(config: HeraldConfig, channel: string): NamespaceOptions {
  validateChannelName(channel);
  const ns = namespaceOf(channel);
  // Own properties only: `constructor:x` or `__proto__:x` must not find Object.prototype's.
  const { namespaces } = config;
  const options = Object.hasOwn(namespaces, ns)
    ? namespaces[ns]
    : Object.hasOwn(namespaces, '*')
      ? namespaces['*']
      : undefined;
  if (!options) throw new HeraldError('unknown_namespace', `namespace "${ns}" is not configured`);
  return options;
}
