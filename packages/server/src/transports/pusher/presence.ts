import type { PresenceMember } from '@herald/protocol';

/** The connection's own member on a presence channel, from its signed `channel_data`. */
export interface PusherMember {
  user_id: string;
  user_info?: unknown;
}

/** A presence channel's `channel_data`: `{"user_id", "user_info"?}`, or why it is refused. */
export function presenceMember(channelData: unknown): PusherMember | string {
  if (typeof channelData !== 'string') return 'presence channels need channel_data';
  try {
    const parsed = JSON.parse(channelData) as { user_id?: unknown; user_info?: unknown };
    const id = parsed.user_id;
    if ((typeof id === 'string' && id !== '') || (typeof id === 'number' && Number.isFinite(id))) {
      return parsed.user_info === undefined
        ? { user_id: String(id) }
        : { user_id: String(id), user_info: parsed.user_info };
    }
  } catch {
    // Refused below.
  }
  return 'channel_data must be JSON with a "user_id"';
}

/**
 * A presence channel's members as one Pusher connection announces them. Herald's presence has an entry
 * per connection, Pusher's a member per user, so it counts connections per user: a user's second
 * connection is no new member, and a member leaves with its last connection.
 */
export class PresenceMembers {
  private readonly connections = new Map<string, number>();
  /** Each member's info at the subscribe, for `pusher_internal:subscription_succeeded`. */
  private readonly users = new Map<string, unknown>();

  /** `members` are the hub's at the subscribe; `own` is the connection's member, counted with them. */
  constructor(members: PresenceMember[], own: PresenceMember) {
    for (const m of [...members, own]) {
      if (m.user === null) continue;
      this.users.set(m.user, m.info ?? {});
      this.connections.set(m.user, (this.connections.get(m.user) ?? 0) + 1);
    }
  }

  get count(): number {
    return this.users.size;
  }

  /** The `presence` of `pusher_internal:subscription_succeeded`; forgets the infos, needed only then. */
  succeeded(): { ids: string[]; hash: Record<string, unknown>; count: number } {
    const presence = {
      ids: [...this.users.keys()],
      hash: Object.fromEntries(this.users),
      count: this.users.size,
    };
    this.users.clear();
    return presence;
  }

  /** Counts a connection of `user` joining; true when it makes `user` a new member. */
  joined(user: string): boolean {
    const count = this.connections.get(user) ?? 0;
    this.connections.set(user, count + 1);
    return count === 0;
  }

  /** Counts a connection of `user` leaving; true when it was the member's last. */
  left(user: string): boolean {
    const count = this.connections.get(user) ?? 0;
    if (count === 0) return false;
    if (count > 1) this.connections.set(user, count - 1);
    else this.connections.delete(user);
    return count === 1;
  }
}
