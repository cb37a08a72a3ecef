import {
  follows,
  type HistoryResult,
  OrderedFollower,
  type PresenceMember,
  type Publication,
  resumeOutcome,
  type StreamPosition,
  type SubscribeResult,
} from '@herald/protocol';
import { reportListenerError } from './emitter.ts';
import type { HeraldClientError } from './errors.ts';

/** Why a channel's continuity broke: the app should refetch its state. */
export interface ResetEvent {
  /**
   * `not_recovered`: history no longer covers what was missed; `epoch_changed`: the stream was reset
   * (a new incarnation of the channel, a broker that lost its data).
   */
  reason: 'not_recovered' | 'epoch_changed';
  /** Where the stream stands now; publications continue after it. */
  epoch: string;
  offset: number;
}

export interface SubscribedEvent {
  epoch: string;
  offset: number;
  /** Present when the subscription resumed from a position: whether everything missed was delivered. */
  recovered?: boolean;
}

/** What one subscriber of a channel hears. Every callback is optional. */
export interface ChannelListener {
  /** Each publication once, in offset order. */
  onPublication?(publication: Publication): void;
  /** Continuity broke; publications go on after the new position. Refetch what you derived from them. */
  onReset?(event: ResetEvent): void;
  /** The subscription is (again) live: on the first subscribe and after every reconnect. */
  onSubscribed?(event: SubscribedEvent): void;
  onError?(error: HeraldClientError): void;
  /** Presence changes, in namespaces with join/leave pushes. */
  onJoin?(member: PresenceMember): void;
  onLeave?(member: PresenceMember): void;
}

export type ChannelStatus = 'subscribing' | 'subscribed' | 'failed';

/**
 * One channel as this client delivers it: every publication once, in offset order. It drops what it has
 * seen (a resume that overlaps, a second connection), holds back what comes after a gap while it fetches
 * the missing offsets from history, and reports a reset when continuity cannot be restored. Its position
 * is the client's one position for the channel: resubscribes, a new leader tab and `client.position` ask it.
 */
export class Channel {
  readonly listeners = new Set<ChannelListener>();
  status: ChannelStatus = 'subscribing';
  /** Where delivery stands; none until the first subscribe result when there was no `since`. */
  private follower: OrderedFollower<Publication> | undefined;
  /** Publications that arrive before the first subscribe result wait for it (null from then on). */
  private early: Publication[] | null = [];
  private healing = false;
  private closed = false;
  /** Epochs the stream has left (epochs are never reused): a late publication of one is dropped. */
  private readonly retired = new Set<string>();

  constructor(
    readonly name: string,
    private readonly history: (since: StreamPosition) => Promise<HistoryResult>,
    since?: StreamPosition,
    /** Told of every publication delivered, after the listeners. */
    private readonly delivered?: (publication: Publication) => void,
  ) {
    if (since) this.follower = this.follow(since);
  }

  /** The last publication delivered (or where delivery starts), as a copy. */
  get position(): StreamPosition | undefined {
    const position = this.follower?.position;
    return position && { epoch: position.epoch, offset: position.offset };
  }

  /** A (re)established subscription: the first one, or one after a reconnect. */
  onResult(result: SubscribeResult): void {
    if (this.closed) return;
    this.status = 'subscribed';
    let pubs = this.early ?? [];
    this.early = null;
    const outcome = resumeOutcome(this.follower?.position, result);
    if (outcome === 'start' || !this.follower) {
      // Nothing delivered yet, so nothing to lose: start where the stream is (a fresh channel on an SSE or
      // long-poll connection that resumes others is reported as not recovered).
      this.follower = this.follow(result);
    } else if (outcome === 'continue') {
      pubs = [...pubs, ...result.publications];
      // The stream may be further than anything we hold: the part in between is then missing.
      this.follower.know(result.offset);
    } else {
      this.reset(outcome, result);
      pubs = pubs.filter((p) => p.epoch === result.epoch);
    }
    const position = this.follower.position;
    const event: SubscribedEvent = { epoch: position.epoch, offset: position.offset };
    if (result.recovered !== undefined) event.recovered = result.recovered;
    this.notify((l) => l.onSubscribed?.(event));
    for (const pub of pubs) if (!this.closed) this.take(pub);
    this.drain();
  }

  /** A live publication. */
  onPublication(pub: Publication): void {
    if (this.closed) return;
    if (this.early) {
      this.early.push(pub);
      return;
    }
    this.take(pub);
    this.drain();
  }

  onError(error: HeraldClientError, final: boolean): void {
    if (final) this.status = 'failed';
    this.notify((l) => l.onError?.(error));
  }

  onPresence(type: 'join' | 'leave', member: PresenceMember): void {
    this.notify((l) => (type === 'join' ? l.onJoin?.(member) : l.onLeave?.(member)));
  }

  close(): void {
    this.closed = true;
    this.early = null;
  }

  private follow(from: StreamPosition): OrderedFollower<Publication> {
    return new OrderedFollower<Publication>(from, (pub) => {
      this.notify((l) => l.onPublication?.(pub));
      this.delivered?.(pub);
    });
  }

  /** Delivers `pub` if it follows, holds it after a gap, drops it if seen; a new epoch is a reset. */
  private take(pub: Publication): void {
    const follower = this.follower as OrderedFollower<Publication>;
    if (this.retired.has(pub.epoch) || follower.offer(pub) !== 'epoch') return;
    // A publication of a new incarnation of the stream: what we hold of the old one is moot.
    this.reset('epoch_changed', { epoch: pub.epoch, offset: pub.offset - 1 });
    follower.offer(pub);
  }

  /** Delivers what now follows the position without a hole; on a hole, heals it from history. */
  private drain(): void {
    const follower = this.follower;
    if (!follower || this.early || this.closed) return;
    follower.flush();
    if (!this.healing && follower.missing) void this.heal();
  }

  private async heal(): Promise<void> {
    const follower = this.follower as OrderedFollower<Publication>;
    this.healing = true;
    const from = { ...follower.position };
    let page: HistoryResult | undefined;
    try {
      page = await this.history(from);
    } catch (err) {
      if (!this.closed) this.notify((l) => l.onError?.(err as HeraldClientError));
    }
    this.healing = false;
    if (this.closed) return;
    const position = follower.position;
    if (position.epoch !== from.epoch || position.offset !== from.offset) {
      this.drain(); // moved on meanwhile (a resubscribe delivered the gap)
      return;
    }
    const pubs = page?.publications.filter((p) => p.offset > from.offset) ?? [];
    if (page && page.epoch !== from.epoch) {
      this.reset('epoch_changed', page);
    } else if (pubs.length > 0 && follows(from, pubs[0])) {
      for (const pub of pubs) this.take(pub);
    } else {
      // History no longer holds the missing offsets (or could not be read): skip to what we hold, or to
      // the end of the stream.
      if (page) follower.know(page.offset);
      this.reset('not_recovered', { epoch: from.epoch, offset: follower.missing?.to ?? from.offset });
    }
    this.drain();
  }

  private reset(reason: ResetEvent['reason'], to: StreamPosition): void {
    const left = this.follower?.position.epoch;
    if (left !== undefined && left !== to.epoch) this.retired.add(left);
    this.follower?.reset(to);
    const event: ResetEvent = { reason, epoch: to.epoch, offset: to.offset };
    this.notify((l) => l.onReset?.(event));
  }

  private notify(call: (listener: ChannelListener) => void): void {
    for (const listener of [...this.listeners]) {
      if (!this.listeners.has(listener)) continue;
      try {
        call(listener);
      } catch (err) {
        reportListenerError(err);
      }
    }
  }
}
