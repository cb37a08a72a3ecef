import type { Subscription } from './subscription.ts';

/** Up to this many subscriptions a session keeps in an array; past it, in a Map. */
const ARRAY_LIMIT = 8;

/**
 * A session's subscriptions by channel. Most connections hold one or a few, and an empty Map alone costs
 * about 240 bytes of hash table, more than the rest of an idle session; a short array searched in order
 * costs a few dozen. Sessions with many subscriptions (up to `subscriptionsPerConnection`, or unlimited)
 * switch to a Map, so lookups never become a long scan.
 */
export class SessionSubscriptions {
  private list: Subscription[] | null = null;
  private map: Map<string, Subscription> | null = null;

  get size(): number {
    return this.map?.size ?? this.list?.length ?? 0;
  }

  get(channel: string): Subscription | undefined {
    if (this.map !== null) return this.map.get(channel);
    const list = this.list;
    if (list === null) return undefined;
    for (let i = 0; i < list.length; i++) if (list[i].channel === channel) return list[i];
    return undefined;
  }

  has(channel: string): boolean {
    return this.get(channel) !== undefined;
  }

  /** Adds `sub` under its channel, replacing the channel's previous subscription. */
  set(sub: Subscription): void {
    if (this.map !== null) {
      this.map.set(sub.channel, sub);
      return;
    }
    const list = this.list;
    const at = list === null ? -1 : list.findIndex((s) => s.channel === sub.channel);
    // Arrays are built at their exact length: one grown by push reserves room for 16 more.
    if (list === null) this.list = [sub];
    else if (at >= 0) list[at] = sub;
    else if (list.length < ARRAY_LIMIT) this.list = [...list, sub];
    else {
      this.map = new Map(list.map((s) => [s.channel, s]));
      this.map.set(sub.channel, sub);
      this.list = null;
    }
  }

  delete(channel: string): void {
    if (this.map !== null) {
      this.map.delete(channel);
      return;
    }
    const list = this.list;
    if (list === null) return;
    const at = list.findIndex((s) => s.channel === channel);
    if (at < 0) return;
    this.list = list.length === 1 ? null : list.filter((_, i) => i !== at);
  }

  values(): Iterable<Subscription> {
    return this.map?.values() ?? this.list ?? [];
  }

  clear(): void {
    this.list = null;
    this.map = null;
  }
}
