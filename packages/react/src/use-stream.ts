'use client';

import type { HeraldClientError } from '@herald/client';
import type { Publication, StreamPosition } from '@herald/protocol';
import { useEffect, useState } from 'react';
import { useHerald } from './provider.tsx';
import type { HookChannel, HookPublication } from './register.ts';
import { useLatest } from './use-latest.ts';

export interface StreamOptions<S, P = Publication> {
  /** Folds each publication into the value, in order. Default: the list of every publication's `data`. */
  reduce?: (value: S, publication: P) => S;
  /** The value before any publication. Default `[]`. */
  initial?: S;
  /** Start with what the channel's history holds (a progress bar opened late), then go live. Default true. */
  replay?: boolean;
  /** The event that marks the end of the stream. Default `done`. */
  doneEvent?: string;
}

export interface StreamView<S, P = Publication> {
  value: S;
  /** The latest publication. */
  last: P | undefined;
  /** Whether the `doneEvent` publication has arrived. */
  done: boolean;
  error: HeraldClientError | undefined;
}

const collect = (list: unknown, pub: Publication): unknown => [...(list as unknown[]), pub.data];

/**
 * A channel as a stream to fold: job progress (`last`), AI tokens (`reduce` them into text), a log. With
 * `replay`, the channel's history comes first; either way every publication is folded once, in order, and
 * a reset (history lost) starts the fold again from history.
 *
 * ```tsx
 * const { value: text, done } = useStream(`answers:${id}`, {
 *   initial: '',
 *   reduce: (text, pub) => (pub.event === 'token' ? text + (pub.data as { token: string }).token : text),
 * });
 * ```
 *
 * With channels registered (`Register`), `reduce` and `last` get the channel's typed publications.
 */
export function useStream<S = unknown[], N extends HookChannel = HookChannel>(
  channel: N | null | undefined,
  options: StreamOptions<S, HookPublication<N>> = {},
): StreamView<S, HookPublication<N>> {
  const client = useHerald();
  const latest = useLatest(options);
  const initial = () => (options.initial ?? []) as S;
  const [view, setView] = useState<StreamView<S, HookPublication<N>>>(() => ({
    value: initial(),
    last: undefined,
    done: false,
    error: undefined,
  }));
  /** Bumped by a reset: the fold starts over. */
  const [generation, setGeneration] = useState(0);
  const replay = options.replay ?? true;

  useEffect(() => {
    void generation;
    const start = (latest.current.initial ?? []) as S;
    setView({ value: start, last: undefined, done: false, error: undefined });
    if (!client || !channel) return;
    let active = true;
    let sub: { unsubscribe(): void } | undefined;
    // No position of its own: the client delivers each publication after `since` once, in order.
    const fold = (pub: Publication) => {
      const { reduce = collect as unknown as (v: S, p: HookPublication<N>) => S, doneEvent = 'done' } =
        latest.current;
      const typed = pub as HookPublication<N>;
      setView((v) => ({
        value: reduce(v.value, typed),
        last: typed,
        done: v.done || pub.event === doneEvent,
        error: undefined,
      }));
    };
    const fail = (error: HeraldClientError) => {
      if (active) setView((v) => ({ ...v, error }));
    };
    const listen = (since?: StreamPosition) => {
      sub = client.subscribe(channel, {
        since,
        onPublication: (pub) => active && fold(pub),
        onReset: () => active && setGeneration((g) => g + 1),
        onError: fail,
      });
    };
    if (replay) {
      client.history(channel).then((page) => {
        if (!active) return;
        for (const pub of page.publications) fold(pub);
        const last = page.publications.at(-1);
        listen(
          last ? { epoch: last.epoch, offset: last.offset } : { epoch: page.epoch, offset: page.offset },
        );
      }, fail);
    } else listen();
    return () => {
      active = false;
      sub?.unsubscribe();
    };
  }, [client, channel, replay, generation, latest]);

  return view;
}
