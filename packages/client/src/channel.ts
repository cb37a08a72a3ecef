import type {
  HistoryResult,
  PresenceMember,
  Publication,
  StreamPosition,
  SubscribeResult,
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
 * the missing offsets from history, and reports a reset when continuity cannot be restored.
 */
export class Channel {
  readonly listeners = new Set<ChannelListener>();
  status: ChannelStatus = 'subscribing';
  /** The last publication delivered (or where delivery starts). */
  position: StreamPosition | undefined;
  /** Publications waiting: before the first result, or behind a gap being healed. Sorted by offset. */
  private waiting: Publication[] = [];
  private ready = false;
  private healing = false;
  /** The highest offset known to exist in the current epoch (a subscribe result's end of stream). */
  private knownEnd = 0;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly history: (since: StreamPosition) => Promise<HistoryResult>,
    since?: StreamPosition,
    /** Told of every publication delivered, after the listeners. */
    private readonly delivered?: (publication: Publication) => void,
  ) {
    this.position = since && { ...since };
  }

  /** A (re)established subscription: the first one, or one after a reconnect. */
  onResult(result: SubscribeResult): void {
    if (this.closed) return;
    this.status = 'subscribed';
    if (!this.position) {
      // Nothing delivered yet, so nothing to lose: start where the stream is (a fresh channel on an SSE or
      // long-poll connection that resumes others is reported as not recovered).
      this.position = { epoch: result.epoch, offset: result.offset };
    } else if (result.recovered === false) {
      this.reset('not_recovered', result);
    } else if (result.epoch !== this.position.epoch) {
      this.reset('epoch_changed', result);
    } else {
      for (const pub of result.publications) this.insert(pub);
      // The stream may be further than anything we hold: the part in between is then missing.
      this.knownEnd = Math.max(this.knownEnd, result.offset);
    }
    this.ready = true;
    const position = this.position!;
    const event: SubscribedEvent = { epoch: position.epoch, offset: position.offset };
    if (result.recovered !== undefined) event.recovered = result.recovered;
    this.notify((l) => l.onSubscribed?.(event));
    this.drain();
  }

  /** A live publication. */
  onPublication(pub: Publication): void {
    if (this.closed) return;
    this.insert(pub);
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
    this.waiting = [];
  }

  /** Adds to `waiting` in offset order, once per offset. */
  private insert(pub: Publication): void {
    const w = this.waiting;
    let i = w.length;
    while (i > 0 && w[i - 1].offset > pub.offset) i--;
    if (i > 0 && w[i - 1].offset === pub.offset && w[i - 1].epoch === pub.epoch) return;
    w.splice(i, 0, pub);
  }

  /** Delivers what follows the position without a hole; on a hole, heals it from history. */
  private drain(): void {
    if (!this.ready || this.healing || this.closed) return;
    const position = () => this.position!;
    while (this.waiting.length > 0) {
      const pub = this.waiting[0];
      if (pub.epoch !== position().epoch) {
        // A publication of a new incarnation of the stream: what we hold of the old one is moot.
        this.reset('epoch_changed', { epoch: pub.epoch, offset: pub.offset - 1 });
        continue;
      }
      if (pub.offset <= position().offset) {
        this.waiting.shift(); // seen already
        continue;
      }
      if (pub.offset > position().offset + 1) break;
      this.waiting.shift();
      position().offset = pub.offset;
      this.notify((l) => l.onPublication?.(pub));
      this.delivered?.(pub);
    }
    if (this.waiting.length > 0 || this.knownEnd > position().offset) void this.heal();
  }

  private async heal(): Promise<void> {
    this.healing = true;
    const from = { ...this.position! };
    let page: HistoryResult | undefined;
    try {
      page = await this.history(from);
    } catch (err) {
      if (!this.closed) this.notify((l) => l.onError?.(err as HeraldClientError));
    }
    this.healing = false;
    if (this.closed) return;
    const position = this.position!;
    if (position.epoch !== from.epoch || position.offset !== from.offset) {
      this.drain(); // moved on meanwhile (a resubscribe delivered the gap)
      return;
    }
    const pubs = page?.publications.filter((p) => p.offset > from.offset) ?? [];
    if (page && page.epoch !== from.epoch) {
      this.reset('epoch_changed', page);
    } else if (pubs.length > 0 && pubs[0].offset === from.offset + 1) {
      for (const pub of pubs) this.insert(pub);
    } else {
      // History no longer holds the missing offsets (or could not be read): skip to what we hold.
      const next = this.waiting.find((p) => p.epoch === from.epoch && p.offset > from.offset);
      const offset = next ? next.offset - 1 : Math.max(page?.offset ?? 0, this.knownEnd);
      this.reset('not_recovered', { epoch: from.epoch, offset });
    }
    this.drain();
  }

  private reset(reason: ResetEvent['reason'], to: StreamPosition): void {
    this.position = { epoch: to.epoch, offset: to.offset };
    this.waiting = this.waiting.filter((p) => p.epoch === to.epoch && p.offset > to.offset);
    this.knownEnd = to.offset;
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
