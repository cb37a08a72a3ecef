import type { PollResult } from '@herald/protocol';
import { expect } from 'vitest';
import { eventually } from './ws-client.ts';

/** One `GET /connection/poll`; throws on a non-200 answer. */
export async function poll(base: string, query: string, init: RequestInit = {}): Promise<PollResult> {
  const res = await fetch(`${base}/connection/poll?${query}`, init);
  const body = await res.json();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * A long-poll client on plain fetch: it keeps the cursor of the last answer it got and polls again with
 * it, also after a failed poll (the answer never arrived, so the cursor is unchanged). Per channel it
 * checks each offset arrives once, in order.
 */
export class Poller {
  cursor = '';
  readonly last = new Map<string, number>();
  readonly tally = { received: 0, duplicates: 0, outOfOrder: 0, notRecovered: 0, polls: 0, failures: 0 };
  private stopped = false;
  readonly done: Promise<void>;

  constructor(
    private readonly base: () => string,
    private readonly channels: string[],
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const query = [...this.channels.map((c) => `channel=${c}`), `cursor=${this.cursor}`, 'timeout=2'].join(
        '&',
      );
      let result: PollResult;
      try {
        this.tally.polls++;
        result = await poll(this.base(), query);
      } catch {
        this.tally.failures++;
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      for (const s of result.subscribed) {
        if (s.recovered === false) this.tally.notRecovered++;
        if (!this.last.has(s.channel) || s.recovered === false) this.last.set(s.channel, s.offset);
      }
      for (const pub of result.publications) {
        const last = this.last.get(pub.channel) ?? -1;
        if (pub.offset <= last) this.tally.duplicates++;
        else if (pub.offset !== last + 1) this.tally.outOfOrder++;
        this.last.set(pub.channel, Math.max(last, pub.offset));
        this.tally.received++;
      }
      this.cursor = result.cursor;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Waits for every poller to reach `perChannel` on each channel, stops them, and checks each got all once. */
export async function expectEveryPublicationOnce(
  pollers: Poller[],
  channels: string[],
  perChannel: number,
): Promise<void> {
  await eventually(
    () => pollers.every((p) => channels.every((c) => p.last.get(c) === perChannel)),
    'every poller reaches the end of each channel',
    30_000,
  );
  await Promise.all(pollers.map((p) => p.stop()));
  for (const p of pollers) {
    expect(p.tally).toMatchObject({
      duplicates: 0,
      outOfOrder: 0,
      notRecovered: 0,
      received: perChannel * channels.length,
    });
  }
}
