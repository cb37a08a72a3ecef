/// <reference path="./cluster-key-slot.d.ts" />
// A static import, so bundles such as the standalone binary carry it (a runtime require would look on disk).
import clusterSlot from 'cluster-key-slot';

/** One publication's keys and arguments for the batch publish script (see PUBLISH_BATCH_SCRIPT). */
export interface BatchedPublish {
  keys: readonly [meta: string, stream: string, idempotency: string];
  args: readonly [data: string, event: string, size: number, ttl: number, window: number, events: string];
}

/** The script's answer for one publication: new, a duplicate of an earlier one, or its own failure. */
export type BatchOutcome = [0 | 1, string, number] | [-1, string];

/** Runs the script once over the publications of one slot, and answers one outcome per publication. */
export type BatchRunner = (keys: string[], args: Array<string | number>) => Promise<BatchOutcome[]>;

interface Waiting {
  publication: BatchedPublish;
  resolve: (outcome: BatchOutcome) => void;
  reject: (err: unknown) => void;
}

/** Most publications in one script call: Redis serves no other client while a script runs. */
const MAX_PUBLICATIONS = 500;
/** Most bytes of data in one script call (each publication's data may be up to the payload limit). */
const MAX_BYTES = 1 << 20;

/**
 * Publications made in one event-loop turn, sent to Redis as one script call per Cluster slot (one
 * for a single Redis) instead of one each: Redis parses one command and starts Lua once for all of them,
 * and the node sends and answers one command. The script takes them in the order they were made, so
 * per channel they get their offsets in that order, as one call each would have given them.
 *
 * While a slot's call is under way, what is made meanwhile waits for it and goes in the next call (group
 * commit): under load the calls grow instead of multiplying, and each publication waits at most one call.
 */
export class PublishBatches {
  /** Per slot, the publications not yet sent, from `head` on. */
  private readonly slots = new Map<number, { waiting: Waiting[]; head: number }>();
  /** Slots with a call under way. */
  private readonly busy = new Set<number>();
  private scheduled = false;

  constructor(
    private readonly run: BatchRunner,
    /** With Redis Cluster, every key of one call must be on one slot. */
    private readonly cluster: boolean,
  ) {}

  add(publication: BatchedPublish): Promise<BatchOutcome> {
    const slot = this.cluster ? clusterSlot(publication.keys[0]) : 0;
    let queue = this.slots.get(slot);
    if (!queue) {
      queue = { waiting: [], head: 0 };
      this.slots.set(slot, queue);
    }
    const { waiting } = queue;
    const done = new Promise<BatchOutcome>((resolve, reject) => {
      waiting.push({ publication, resolve, reject });
    });
    this.schedule();
    return done;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After this turn's I/O callbacks (and the promise reactions of an answered call): every publish
    // they made joins the batch.
    setImmediate(() => this.flush());
  }

  /**
   * One call per slot at a time, of at most MAX_PUBLICATIONS: a backlog waits here, not in Redis's
   * queue behind the call, where the command timeout would run out for calls that were never slow,
   * only queued, and fail their publications as `unavailable`.
   */
  private flush(): void {
    this.scheduled = false;
    for (const [slot, queue] of this.slots) {
      if (this.busy.has(slot)) continue;
      const { waiting, head } = queue;
      let to = head;
      let bytes = 0;
      while (to < waiting.length && to - head < MAX_PUBLICATIONS && (to === head || bytes < MAX_BYTES)) {
        bytes += waiting[to].publication.args[0].length;
        to++;
      }
      this.send(slot, head === 0 && to === waiting.length ? waiting : waiting.slice(head, to));
      if (to === waiting.length) this.slots.delete(slot);
      else if (to * 2 < waiting.length) queue.head = to;
      // Sent publications are let go once they are the larger part (copying the rest is then cheap).
      else this.slots.set(slot, { waiting: waiting.slice(to), head: 0 });
    }
  }

  private send(slot: number, batch: Waiting[]): void {
    this.busy.add(slot);
    const keys: string[] = [];
    const args: Array<string | number> = [];
    for (const { publication } of batch) {
      keys.push(...publication.keys);
      args.push(...publication.args);
    }
    this.run(keys, args)
      .then(
        (outcomes) => {
          for (let i = 0; i < batch.length; i++) batch[i].resolve(outcomes[i]);
        },
        (err: unknown) => {
          for (const waiting of batch) waiting.reject(err);
          // Redis did not answer in time (or at all): what waits behind the call fails with it, now,
          // rather than each call of a backlog running out the command timeout in turn.
          const queue = this.slots.get(slot);
          if (!queue) return;
          this.slots.delete(slot);
          for (const waiting of queue.waiting.slice(queue.head)) waiting.reject(err);
        },
      )
      .finally(() => {
        this.busy.delete(slot);
        if (this.slots.has(slot)) this.schedule();
      });
  }
}
