import type { Delivery } from './delivery.ts';
import type { Session } from './session.ts';

/** One session's subscription to one channel, and how far along the stream it has been sent. */
export class Subscription {
  epoch = '';
  offset = 0;
  /**
   * While the subscription is being positioned (history read in flight), live publications wait here;
   * they are merged by offset once the history is sent. `null` once live.
   */
  pending: Delivery[] | null = [];

  constructor(
    readonly session: Session,
    readonly channel: string,
  ) {}
}
