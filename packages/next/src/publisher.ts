import { randomUUID } from 'node:crypto';
import {
  type ChannelDefinitions,
  type ChannelName,
  type ChannelSchemas,
  type ErrorCode,
  ErrorCodes,
  type EventInput,
  type EventName,
  HeraldError,
  type HistoryResult,
  type PresenceResult,
  type PublishResult,
  readWholeHistory,
  type StreamPosition,
  type TypedPublication,
} from '@herald/protocol';
import { callApi } from '@herald/server';
import { getHub, type HubSource, resolveHub } from './hub.ts';

export interface PublishOptions {
  /** Event name (the SSE `event:` field). Default `message`. */
  event?: string;
  /** Publications with the same key within the hub's window are delivered once. Default: a fresh key. */
  idempotencyKey?: string;
  /** `false`: neither the publisher's `channels` nor the hub's schemas check this data. Default true. */
  validate?: boolean;
}

export type BroadcastResult = PublishResult | { error: { code: ErrorCode; message: string } };

/** Publishing and reading from server code: Route Handlers, Server Actions, jobs. */
export interface Publisher {
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  broadcast(channels: string[], data: unknown, options?: PublishOptions): Promise<BroadcastResult[]>;
  history(channel: string, query?: HistoryQuery): Promise<HistoryResult>;
  presence(channel: string): Promise<PresenceResult['members']>;
}

type HistoryQuery = { since?: StreamPosition; limit?: number; reverse?: boolean };

/** `PublishOptions` whose `event` must be one of the channel's (and is required). */
export type TypedPublishOptions<E extends string> = Omit<PublishOptions, 'event'> & { event: E };

/**
 * A `Publisher` made with `channels` (`defineChannels`): only the channels and events they describe, and
 * `data` of each event's shape, are accepted at compile time; history comes typed.
 */
export interface TypedPublisher<S extends ChannelSchemas> {
  publish<N extends ChannelName<S>, E extends EventName<S, N>>(
    channel: N,
    data: EventInput<S, N, E>,
    options: TypedPublishOptions<E>,
  ): Promise<PublishResult>;
  broadcast<N extends ChannelName<S>, E extends EventName<S, N>>(
    channels: N[],
    data: EventInput<S, N, E>,
    options: TypedPublishOptions<E>,
  ): Promise<BroadcastResult[]>;
  history<N extends ChannelName<S>>(
    channel: N,
    query?: HistoryQuery,
  ): Promise<Omit<HistoryResult, 'publications'> & { publications: TypedPublication<S, N>[] }>;
  presence(channel: ChannelName<S>): Promise<PresenceResult['members']>;
}

export interface RemoteHub {
  /** The hub's base URL, e.g. `http://127.0.0.1:8080` (or a Next.js mount like `https://app/realtime`). */
  url: string;
  /** The hub's `HERALD_API_KEY`. */
  apiKey?: string;
  /** Attempts after the first one for network failures and 502/503/504. Default 2. */
  retries?: number;
  /** Per-attempt timeout in milliseconds. Default 10,000. */
  timeout?: number;
}

type Call = (method: string, body: Record<string, unknown>) => Promise<unknown>;

/** Where a publisher publishes: the in-process hub (`hub`, default `getHub()`) or a remote one. */
export type PublisherTarget = { hub?: HubSource } | RemoteHub;

/**
 * A publisher for the in-process hub (default, or `{ hub }`) or a remote one over the HTTP API
 * (`{ url, apiKey }`, or the `HERALD_URL` and `HERALD_API_KEY` environment variables). Both run the same
 * API methods with the same checks, so code moves between the two unchanged. Every publication carries an
 * idempotency key, so a retried request after a lost response is never delivered twice.
 *
 * With `channels` (`defineChannels`) it is typed, and checks each publication's data against them before
 * sending it (the schema's output is what it sends); the default in-process hub gets them too
 * (`getHub({ channels })`), so it checks its clients' publications.
 */
export function createPublisher<S extends ChannelSchemas>(
  target: PublisherTarget & { channels: ChannelDefinitions<S> },
): TypedPublisher<S>;
export function createPublisher(target?: PublisherTarget): Publisher;
export function createPublisher(
  target: PublisherTarget & { channels?: ChannelDefinitions } = {},
): Publisher | TypedPublisher<ChannelSchemas> {
  const { channels } = target;
  const envUrl = process.env.HERALD_URL;
  let call: Call;
  if ('url' in target) call = remoteCall(target);
  else if (!target.hub && envUrl) call = remoteCall({ url: envUrl, apiKey: process.env.HERALD_API_KEY });
  else {
    const hub = target.hub ?? (() => getHub({ channels }));
    call = async (method, body) => callApi(await resolveHub(hub), method, body);
  }
  const publication = async (channels: string[], data: unknown, options: PublishOptions) => ({
    data: await checked(channels, data, options),
    event: options.event,
    idempotencyKey: options.idempotencyKey ?? randomUUID(),
    validate: options.validate,
  });
  // Every channel's entry checks the data; a broadcast sends all of them the same (the last output).
  const checked = async (names: string[], data: unknown, options: PublishOptions) => {
    if (!channels || options.validate === false) return data;
    let value = data;
    for (const channel of names) {
      const result = await channels.check(channel, options.event, data);
      if (result) value = result.value;
    }
    return value;
  };
  return {
    publish: async (channel: string, data: unknown, options: PublishOptions = {}) =>
      call('publish', {
        channel,
        ...(await publication([channel], data, options)),
      }) as Promise<PublishResult>,
    broadcast: async (names: string[], data: unknown, options: PublishOptions = {}) => {
      const body = { channels: names, ...(await publication(names, data, options)) };
      const { results } = (await call('broadcast', body)) as { results: BroadcastResult[] };
      return results;
    },
    history: (channel: string, query: HistoryQuery = {}) =>
      readWholeHistory(async (page) => (await call('history', { channel, ...page })) as HistoryResult, query),
    presence: async (channel: string) => {
      const { members } = (await call('presence', { channel })) as PresenceResult;
      return members;
    },
  };
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);

function remoteCall(remote: RemoteHub): Call {
  const base = remote.url.replace(/\/+$/, '');
  const retries = remote.retries ?? 2;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (remote.apiKey) headers.authorization = `apikey ${remote.apiKey}`;
  return async (method, body) => {
    const payload = JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(`${base}/api/${method}`, {
          method: 'POST',
          headers,
          body: payload,
          signal: AbortSignal.timeout(remote.timeout ?? 10_000),
        });
      } catch (err) {
        if (attempt < retries) {
          await backoff(attempt);
          continue;
        }
        throw new HeraldError('unavailable', `hub at ${base} unreachable: ${(err as Error).message}`);
      }
      if (RETRYABLE_STATUS.has(response.status) && attempt < retries) {
        await response.body?.cancel();
        await backoff(attempt);
        continue;
      }
      return readResult(response);
    }
  };
}

async function readResult(response: Response): Promise<unknown> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new HeraldError('unavailable', `hub answered ${response.status} without JSON`);
  }
  if (response.ok) return body;
  const error = (body as { error?: { code?: string; message?: string } }).error;
  const code = error?.code && Object.hasOwn(ErrorCodes, error.code) ? (error.code as ErrorCode) : 'internal';
  throw new HeraldError(code, error?.message ?? `hub answered ${response.status}`);
}

/** 100 ms, 200 ms, 400 ms… with full jitter, so retrying publishers do not arrive together. */
function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** attempt));
}
