import {
  type Cursor,
  encodeCursor,
  type Publication,
  type StreamPosition,
  type SubscribedEvent,
  type SubscribeOptions,
} from '@herald/protocol';
import type { PositionedSubscription } from '../core/hub.ts';
import type { Session } from '../core/session.ts';

/**
 * What a cursor client (SSE, long-polling) has been sent of each channel. Its cursor is what the client
 * resumes from, so a position moves only as publications are handed to the client, never ahead.
 */
export class ChannelPositions {
  private readonly positions = new Map<string, StreamPosition>();

  get size(): number {
    return this.positions.size;
  }

  cursor(): string {
    return encodeCursor(this.positions);
  }

  advance(pub: Publication): void {
    const position = this.positions.get(pub.channel);
    if (position) {
      position.epoch = pub.epoch;
      position.offset = pub.offset;
    } else {
      this.positions.set(pub.channel, { epoch: pub.epoch, offset: pub.offset });
    }
  }

  /** Before resuming: keep the client's own positions, so a cut before they are all renewed loses none. */
  hold(cursor: Cursor, channels: string[]): void {
    for (const channel of channels) {
      const position = cursor.position(channel);
      if (position) this.positions.set(channel, position);
    }
  }

  delete(channel: string): void {
    this.positions.delete(channel);
  }

  /**
   * Subscribes `channel` from `options.since` and moves its position to where the client now is: `since`
   * when recovered (the recovered publications are still to be handed over, each advancing it), else the
   * current end. `resuming`: the client sent a cursor, so a channel it holds no position for is reported
   * `recovered: false` rather than silently started fresh.
   */
  async subscribe(
    session: Session,
    channel: string,
    options: SubscribeOptions,
    resuming: boolean,
  ): Promise<{ subscribed: SubscribedEvent; positioned: PositionedSubscription }> {
    const positioned = await session.subscribe(channel, options);
    const { epoch, offset, recovered } = positioned.result;
    this.positions.set(channel, recovered ? { ...options.since! } : { epoch, offset });
    const subscribed: SubscribedEvent = { type: 'subscribed', channel, epoch, offset };
    if (recovered !== undefined || resuming) subscribed.recovered = recovered ?? false;
    return { subscribed, positioned };
  }
}
