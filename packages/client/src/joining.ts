import {
  follows,
  type HistoryOptions,
  type HistoryResult,
  isDuplicate,
  type Publication,
  type StreamPosition,
} from '@herald/protocol';
import type { ChannelListener } from './channel.ts';
import type { HeraldClientError } from './errors.ts';

/*
 * Listeners for a subscriber that joins a channel this client already delivers, at a position of its own.
 */

/**
 * A listener joining a channel that is not behind `since`: what the channel delivers up to `since` (it may
 * not be there yet) this subscriber has had already.
 */
export function after(since: StreamPosition, listener: ChannelListener): ChannelListener {
  return {
    ...listener,
    onPublication: (pub) => {
      if (!isDuplicate(since, pub)) listener.onPublication?.(pub);
    },
  };
}

/**
 * A listener for a subscriber that starts at `since`, behind the channel's `until`: live publications wait
 * while history supplies `since+1..until`, then flow; a history that no longer reaches back is a reset.
 */
export function catchUp(
  history: (query: HistoryOptions) => Promise<HistoryResult>,
  listener: ChannelListener,
  since: StreamPosition,
  until: number,
): ChannelListener {
  let held: Publication[] | null = [];
  const caughtUp = { epoch: since.epoch, offset: until };
  const deliver = (pub: Publication) => listener.onPublication?.(pub);
  const release = () => {
    const waiting = held ?? [];
    held = null;
    for (const pub of waiting) if (!isDuplicate(caughtUp, pub)) deliver(pub);
  };
  history({ since, limit: until - since.offset }).then(
    (page) => {
      if (held === null) return;
      const pubs = page.publications.filter((p) => p.epoch === since.epoch && p.offset <= until);
      if (pubs.length === 0 || !follows(since, pubs[0])) {
        listener.onReset?.({ reason: 'not_recovered', epoch: since.epoch, offset: until });
      } else for (const pub of pubs) deliver(pub);
      listener.onSubscribed?.({ epoch: since.epoch, offset: until, recovered: pubs.length > 0 });
      release();
    },
    (err: HeraldClientError) => {
      listener.onError?.(err);
      listener.onReset?.({ reason: 'not_recovered', epoch: since.epoch, offset: until });
      release();
    },
  );
  return {
    ...listener,
    onPublication: (pub) => {
      if (held) held.push(pub);
      else deliver(pub);
    },
  };
}
