import type { Publication } from '@herald/protocol';
import { Delivery } from './delivery.ts';

/**
 * What one cached delivery is taken to hold beyond its JSON: the publication object, the map entry, and
 * about two transports' encodings of the same size as the JSON.
 */
const ENTRY_OVERHEAD = 256;
const ENCODINGS_PER_JSON = 3;

/**
 * Deliveries of publications read back from history, by channel, epoch and offset, the least recently
 * used dropped past a budget of bytes. Clients resuming together (a reconnect storm) read the same
 * stretch of each stream: they then share one Delivery per stored publication, so its JSON and each
 * transport's encoding are made once instead of once per client. Live fan-out does not go through it: a
 * live publication is one Delivery for every subscriber already.
 */
export class StoredDeliveries {
  private readonly entries = new Map<string, { delivery: Delivery; bytes: number }>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  /** The delivery of `pub`, shared with every other reader of the same position while it stays cached. */
  of(pub: Publication): Delivery {
    // A channel name holds no newline, and an epoch none either (brokers make them of letters and digits).
    const key = `${pub.channel}\n${pub.epoch}\n${pub.offset}`;
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      // Most recently used last: the map's order is the eviction order.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.delivery;
    }
    const delivery = new Delivery(pub);
    const bytes = ENTRY_OVERHEAD + (delivery.encodable ? ENCODINGS_PER_JSON * delivery.json.length : 0);
    if (bytes > this.budget) return delivery;
    this.entries.set(key, { delivery, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.budget) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
    return delivery;
  }
}
