import type { WebhookMember } from '@herald/protocol';
import { type LedgerEvents, type LifecycleLedger, settleInterval } from './ledger.ts';

interface ChannelState {
  /** Whether this node has a subscriber. */
  held: boolean;
  /** Whether `channel.occupied` was sent and `channel.vacated` not yet. */
  occupied: boolean;
  /** When the channel, empty since, is vacant for good (ms), unless a subscriber comes first. */
  vacateAt: number | null;
  /** Present members by client, each with the member reported for it (an earlier client of a returning user). */
  members: Map<string, WebhookMember>;
  /** Members who left and whose leave is not sent yet, by user, oldest first. */
  leaving: Map<string, Array<{ member: WebhookMember; at: number }>>;
}

/**
 * The ledger of a hub alone (memory broker): it sends every event itself. The grace is kept with one
 * timer for the whole ledger and a queue of what falls due, in order since the grace is the same for all.
 */
export class MemoryLedger implements LifecycleLedger {
  private readonly channels = new Map<string, ChannelState>();
  private readonly due: Array<{ channel: string; at: number }> = [];
  private dueHead = 0;
  private events: LedgerEvents | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly graceMs: number) {}

  async start(events: LedgerEvents): Promise<void> {
    this.events = events;
    if (this.graceMs > 0) {
      this.timer = setInterval(() => this.settleDue(Date.now()), settleInterval(this.graceMs));
      this.timer.unref();
    }
  }

  connected(): void {}

  disconnected(): void {}

  occupy(channel: string): void {
    const state = this.state(channel);
    state.held = true;
    if (state.occupied) {
      state.vacateAt = null;
      return;
    }
    state.occupied = true;
    this.events?.occupied(channel, Date.now());
  }

  release(channel: string): void {
    const state = this.channels.get(channel);
    if (!state?.held) return;
    state.held = false;
    if (!state.occupied) return;
    if (this.graceMs === 0) {
      state.occupied = false;
      this.events?.vacated(channel, Date.now());
      this.forgetIfIdle(channel, state);
      return;
    }
    state.vacateAt = this.schedule(channel);
  }

  join(channel: string, member: WebhookMember): void {
    const state = this.state(channel);
    if (state.members.has(member.client)) return;
    const returning = member.user === null ? undefined : state.leaving.get(member.user)?.shift();
    if (returning) {
      if (state.leaving.get(member.user as string)?.length === 0) state.leaving.delete(member.user as string);
      state.members.set(member.client, returning.member);
      return;
    }
    state.members.set(member.client, member);
    this.events?.joined(channel, member, Date.now());
  }

  leave(channel: string, client: string): void {
    const state = this.channels.get(channel);
    const member = state?.members.get(client);
    if (!state || !member) return;
    state.members.delete(client);
    if (this.graceMs === 0 || member.user === null) {
      this.events?.left(channel, member, Date.now());
      this.forgetIfIdle(channel, state);
      return;
    }
    let list = state.leaving.get(member.user);
    if (!list) {
      list = [];
      state.leaving.set(member.user, list);
    }
    list.push({ member, at: this.schedule(channel) });
  }

  /** Sends every leave and vacancy still waiting: nobody else would once this hub is gone. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.settleDue(Number.POSITIVE_INFINITY);
  }

  private state(channel: string): ChannelState {
    let state = this.channels.get(channel);
    if (!state) {
      state = { held: false, occupied: false, vacateAt: null, members: new Map(), leaving: new Map() };
      this.channels.set(channel, state);
    }
    return state;
  }

  private schedule(channel: string): number {
    const at = Date.now() + this.graceMs;
    this.due.push({ channel, at });
    return at;
  }

  private settleDue(now: number): void {
    while (this.dueHead < this.due.length && this.due[this.dueHead].at <= now) {
      const { channel } = this.due[this.dueHead++];
      const state = this.channels.get(channel);
      if (state) this.settle(channel, state, now);
    }
    if (this.dueHead > 1024 && this.dueHead * 2 > this.due.length) {
      this.due.splice(0, this.dueHead);
      this.dueHead = 0;
    }
  }

  /** Sends the leaves whose grace is over, then the vacancy if it is. */
  private settle(channel: string, state: ChannelState, now: number): void {
    for (const [user, list] of state.leaving) {
      while (list.length > 0 && list[0].at <= now)
        this.events?.left(channel, (list.shift() as { member: WebhookMember }).member, Date.now());
      if (list.length === 0) state.leaving.delete(user);
    }
    if (state.vacateAt !== null && state.vacateAt <= now && !state.held) {
      state.vacateAt = null;
      state.occupied = false;
      this.events?.vacated(channel, Date.now());
    }
    this.forgetIfIdle(channel, state);
  }

  private forgetIfIdle(channel: string, state: ChannelState): void {
    if (!state.held && !state.occupied && state.members.size === 0 && state.leaving.size === 0)
      this.channels.delete(channel);
  }
}
