import type { Publication } from '@herald/protocol';

/**
 * A publication on its way to subscribers. Each transport encodes it at most once and caches the bytes
 * here, so fan-out writes the same buffer to every connection of that transport.
 */
export class Delivery {
  private jsonBytes: Buffer | undefined;
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

  /** The `{"type":"pub",...}` push as UTF-8 JSON. */
  get json(): Buffer {
    if (this.jsonBytes === undefined) {
      this.jsonBytes = Buffer.from(JSON.stringify({ type: 'pub', ...this.pub }));
    }
    return this.jsonBytes;
  }
}
