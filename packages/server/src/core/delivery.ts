import { HeraldError, type Publication } from '@herald/protocol';

/** A slot in every Delivery's encoding cache, owned by the transport that registered it. */
export type EncodingSlot<T> = number & { readonly __encoding?: T };

let slots = 0;

/**
 * Where a broker may leave a publication's data as the JSON text it came in (what a hub encoded when it
 * was published, known to parse): the push embeds that text instead of encoding `data` again. A symbol
 * key, so it shows in no JSON encoding of the publication.
 */
export const DATA_JSON: unique symbol = Symbol('herald.dataJson');

/** A publication as a broker may hand it over: with its data's JSON text alongside. */
export interface BrokerPublication extends Publication {
  [DATA_JSON]?: string;
}

/** `{"type":"pub",...}` with `dataJson` as the data, fields in the order the broker gave them. */
function pushWithData(pub: Publication, dataJson: string): string {
  let json = `{"type":"pub","channel":${JSON.stringify(pub.channel)},"epoch":${JSON.stringify(pub.epoch)},"offset":${pub.offset},"data":${dataJson}`;
  if (pub.ts !== undefined) json += `,"ts":${pub.ts}`;
  if (pub.event !== undefined) json += `,"event":${JSON.stringify(pub.event)}`;
  return `${json}}`;
}

/** Registers a cache slot for one encoding of publications (a transport's frame, say); call once, at load. */
export function encodingSlot<T>(): EncodingSlot<T> {
  return slots++ as EncodingSlot<T>;
}

/**
 * A publication on its way to subscribers. Each transport encodes it at most once per encoding it
 * registered (`encodingSlot`) and caches the bytes here, so fan-out writes the same buffer to every
 * connection of that transport, and a new transport needs no field here.
 */
export class Delivery {
  private jsonBytes: Buffer | undefined;
  /** Encoding failed: tried once, not again for every subscriber. */
  private unencodable = false;
  /** Transports' encodings by slot; made on first use. */
  private encodings: unknown[] | undefined;

  constructor(readonly pub: BrokerPublication) {}

  /**
   * Whether the publication can be encoded. The hub checks data before storing it, so this fails only
   * for what a broker hands back that no hub checked (written by an older version, or mutated by an
   * embedding app after publishing); the hub then resets the subscription instead of skipping it.
   */
  get encodable(): boolean {
    if (this.jsonBytes === undefined && !this.unencodable) {
      try {
        const dataJson = this.pub[DATA_JSON];
        this.jsonBytes = Buffer.from(
          dataJson === undefined
            ? JSON.stringify({ type: 'pub', ...this.pub })
            : pushWithData(this.pub, dataJson),
        );
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

  /**
   * The encoding in `slot`, made by `encode` the first time it is asked for. `context` is passed to
   * `encode` as is, so a transport on the hot path hands over a module-level function, not a new closure.
   */
  encoded<T, C = undefined>(
    slot: EncodingSlot<T>,
    encode: (delivery: Delivery, context: C) => T,
    context?: C,
  ): T {
    this.encodings ??= [];
    let value = this.encodings[slot] as T | undefined;
    if (value === undefined) {
      value = encode(this, context as C);
      this.encodings[slot] = value;
    }
    return value;
  }
}
