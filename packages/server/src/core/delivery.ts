import { HeraldError, type Publication } from '@herald/protocol';

/**
 * A publication on its way to subscribers. Each transport encodes it at most once and caches the bytes
 * here, so fan-out writes the same buffer to every connection of that transport.
 */
export class Delivery {
  private jsonBytes: Buffer | undefined;
  /** Encoding failed: tried once, not again for every subscriber. */
  private unencodable = false;
  /** Complete WebSocket frame, filled by the WebSocket transport. */
  wsFrame: Buffer | undefined;
  /** `event:` and `data:` lines of the SSE message, filled by the SSE transport. */
  sseBody: Buffer | undefined;
  /**
   * The whole SSE message, `id:` included, for streams subscribed to this channel alone: their cursor
   * is the same, so they share these bytes too.
   */
  sseSolo: Buffer | undefined;

  constructor(readonly pub: Publication) {}

  /**
   * Whether the publication can be encoded. The hub checks data before storing it, so this fails only
   * for what a broker hands back that no hub checked (written by an older version, or mutated by an
   * embedding app after publishing); the hub then resets the subscription instead of skipping it.
   */
  get encodable(): boolean {
    if (this.jsonBytes === undefined && !this.unencodable) {
      try {
        this.jsonBytes = Buffer.from(JSON.stringify({ type: 'pub', ...this.pub }));
      } catch {
        this.unencodable = true;
      }
    }
    return !this.unencodable;
  }

  /** The `{"type":"pub",...}` push as UTF-8 JSON. */
  get json(): Buffer {
    if (!this.encodable) {
      throw new HeraldError(
        'invalid_data',
        `publication ${this.pub.offset} of ${this.pub.channel} cannot be encoded`,
      );
    }
    return this.jsonBytes as Buffer;
  }
}
