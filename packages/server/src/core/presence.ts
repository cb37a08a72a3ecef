import type { PresenceMember } from '@herald/protocol';
import type { Broker } from './broker.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import type { Subscription } from './subscription.ts';

interface Tracked {
  member: PresenceMember;
  /** A lease outlives its subscription: left to expire in the broker, not removed. */
  lease: boolean;
  /**
   * The last broker call still running for this subscription; the next one waits for it, so a late
   * refresh can never resurrect a leave. Null when none runs (most entries, most of the time).
   */
  tail: Promise<void> | null;
}

/**
 * This node's presence entries: one per subscription in a namespace with presence. Entries expire in the
 * broker after `ttl` unless refreshed, so members of a node that dies without saying goodbye vanish on
 * their own; `refresh` (called from the hub's shared sweep) keeps this node's live members in. A lease
 * (a long-poll client, whose session ends with each request) is not removed when its subscription ends:
 * the client's next request refreshes it, and it expires when the client stops coming.
 */
export class PresenceTracker {
  private readonly tracked = new Map<Subscription, Tracked>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly broker: Broker,
    private readonly log: Logger,
    private readonly ttl: number,
    private readonly lifecycle: Lifecycle,
  ) {}

  get size(): number {
    return this.tracked.size;
  }

  join(sub: Subscription, member: PresenceMember, lease = false): void {
    const entry: Tracked = { member, lease, tail: null };
    this.tracked.set(sub, entry);
    this.enqueue(sub.channel, entry, () => this.broker.addPresence(sub.channel, member, this.ttl));
    if (this.lifecycle.observed)
      this.lifecycle.emit({ type: 'presence.joined', channel: sub.channel, member, lease });
  }

  leave(sub: Subscription): void {
    const entry = this.tracked.get(sub);
    if (!entry) return;
    this.tracked.delete(sub);
    if (entry.lease) return;
    this.enqueue(sub.channel, entry, () => this.broker.removePresence(sub.channel, entry.member));
    if (this.lifecycle.observed) {
      this.lifecycle.emit({ type: 'presence.left', channel: sub.channel, member: entry.member });
    }
  }

  refresh(): void {
    for (const [sub, entry] of this.tracked) {
      this.enqueue(sub.channel, entry, () => this.broker.addPresence(sub.channel, entry.member, this.ttl));
    }
  }

  /** Resolves when every presence call issued so far has settled. */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private enqueue(channel: string, entry: Tracked, op: () => Promise<void>): void {
    const tail: Promise<void> = (entry.tail === null ? op() : entry.tail.then(op))
      .catch((err) => this.log.warn({ err, channel }, 'presence update failed'))
      .finally(() => {
        this.inFlight.delete(tail);
        if (entry.tail === tail) entry.tail = null;
      });
    entry.tail = tail;
    this.inFlight.add(tail);
  }
}
