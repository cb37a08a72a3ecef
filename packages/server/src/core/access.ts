import { HeraldError } from '@herald/protocol';
import type { NamespaceOptions } from '../config.ts';
import type { Identity } from './auth.ts';

/**
 * The users a private channel belongs to: the comma-separated list after the first `#`
 * (`notifications:#42` → ["42"], `dm:#alice,bob` → ["alice", "bob"]); null for a public channel.
 */
export function channelUsers(channel: string): string[] | null {
  const hash = channel.indexOf('#');
  if (hash === -1) return null;
  return channel
    .slice(hash + 1)
    .split(',')
    .filter((user) => user !== '');
}

function checkPrivate(identity: Identity, channel: string): void {
  const users = channelUsers(channel);
  if (users === null) return;
  if (identity.user === null || !users.includes(identity.user)) {
    throw new HeraldError(
      'forbidden',
      `${channel} is private to ${users.length === 1 ? 'user' : 'users'} ${users.join(', ') || '(none)'}`,
    );
  }
}

/**
 * The rules for reading a channel (subscribe, history, presence) that need no credentials check.
 * Returns the namespace's mode when the authenticator must still decide (`token` or `proxy`).
 */
export function checkRead(
  identity: Identity,
  channel: string,
  ns: NamespaceOptions,
): 'token' | 'proxy' | null {
  checkPrivate(identity, channel);
  switch (ns.subscribe) {
    case 'anyone':
      return null;
    case 'authenticated':
      if (identity.user === null)
        throw new HeraldError('forbidden', `${channel} is for authenticated connections only`);
      return null;
    default:
      return ns.subscribe;
  }
}

/** The rules for a client publishing to a channel (the server API is not subject to them). */
export function checkPublish(identity: Identity, channel: string, ns: NamespaceOptions): void {
  if (ns.publish === 'nobody') throw new HeraldError('forbidden', `clients may not publish to ${channel}`);
  if (ns.publish === 'authenticated' && identity.user === null) {
    throw new HeraldError('forbidden', `only authenticated connections may publish to ${channel}`);
  }
  checkPrivate(identity, channel);
}
