import { readBodyText } from './json.ts';

/** A request's method and headers: what CORS reads. */
export interface RequestHead {
  readonly method: string;
  /** A header by its lower-case name. */
  header(name: string): string | undefined;
}

/**
 * What the server API reads from a request, whether it came as a web `Request` (route handlers,
 * Next.js) or straight from Node's HTTP server (`NodeApiRequest`), so its checks exist once.
 */
export interface ApiRequest extends RequestHead {
  /**
   * The body as UTF-8 text: 413 `payload_too_large` over `limit` bytes (refused before buffering
   * when the length is declared), 400 `bad_request` when the client stops sending it.
   */
  text(limit: number): Promise<string>;
}

export function webApiRequest(request: Request): ApiRequest {
  return {
    method: request.method,
    header: (name) => request.headers.get(name) ?? undefined,
    text: (limit) => readBodyText(request, limit),
  };
}
