import {
  type Cursor,
  type CursorEntry,
  channelKey,
  encodeCursorAscii,
  type Publication,
  type StreamPosition,
  type SubscribedEvent,
  type SubscribeOptions,
} from '@herald/protocol';
import type { Session } from '../../core/session.ts';
import type { PositionedSubscription } from '../../core/subscription.ts';

const ID_FIELD = Buffer.from('id: ');

/** A channel's position with its cursor key, updated in place as publications go out. */
interface Entry extends CursorEntry {
  readonly channel: string;
  epoch: string;
  offset: number;
}

/**
 * What a cursor client (SSE, long-polling) has been sent of each channel. Its cursor is what the client
 * resumes from, so a position moves only as publications are handed to the client, never ahead.
 */
export class ChannelPositions {
  private readonly byChannel = new Map<string, Entry>();
  /** The same entries in an array, for the encoder (channels change rarely; positions on every event). */
  private entries: Entry[] = [];

  /** The channel when there is exactly one. */
  onlyChannel(): string | null {
    return this.entries.length === 1 ? this.entries[0].channel : null;
  }

  cursor(): string {
    return Buffer.from(encodeCursorAscii(this.entries)).toString('latin1');
  }

  /** `id: <cursor>\n` for an SSE event, written straight from the encoder's bytes. */
  idLine(): Buffer {
    const ascii = encodeCursorAscii(this.entries);
    const line = Buffer.allocUnsafe(ID_FIELD.length + ascii.length + 1);
    line.set(ID_FIELD, 0);
    line.set(ascii, ID_FIELD.length);
    line[line.length - 1] = 0x0a;
    return line;
  }

  advance(pub: Publication): void {
    this.set(pub.channel, pub);
  }

  private set(channel: string, { epoch, offset }: StreamPosition): void {
    const entry = this.byChannel.get(channel);
    if (entry) {
      entry.epoch = epoch;
      entry.offset = offset;
      return;
    }
    const created: Entry = { channel, key: channelKey(channel), epoch, offset };
    this.byChannel.set(channel, created);
    this.entries.push(created);
  }

  /** Before resuming: keep the client's own positions, so a cut before they are all renewed loses none. */
  hold(cursor: Cursor, channels: string[]): void {
    for (const channel of channels) {
      const position = cursor.position(channel);
      if (position) this.set(channel, position);
    }
  }

  delete(channel: string): void {
    const entry = this.byChannel.get(channel);
    if (!entry) return;
    this.byChannel.delete(channel);
    this.entries = this.entries.filter((e) => e !== entry);
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
    this.set(channel, recovered ? options.since! : { epoch, offset });
    const subscribed: SubscribedEvent = { type: 'subscribed', channel, epoch, offset };
    if (recovered !== undefined || resuming) subscribed.recovered = recovered ?? false;
    return { subscribed, positioned };
  }
}
