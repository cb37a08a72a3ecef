import type { HeraldClient } from '@herald/client';
import {
  ANSWER_END_EVENTS,
  AnswerEvents,
  type AnswerPublication,
  type AnswerStop,
  type AnswerTicket,
  type Publication,
  type StreamPosition,
} from '@herald/protocol';
import type { ChatRequestOptions, ChatTransport, UIMessage, UIMessageChunk } from 'ai';

export interface HeraldChatTransportOptions {
  /** The Herald client the answer is read with, or a function giving it when it exists. */
  client: HeraldClient | (() => HeraldClient | Promise<HeraldClient>);
  /** The chat's channel, as the route publishes it: a name, or one made from the chat's id. */
  channel: string | ((chatId: string) => string);
  /** The app's chat route, which starts the answer with `publishAnswer` and replies with `chatResponse`. Default `/api/chat`. */
  api?: string;
  /** Sent with every request to the route. */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** Extra JSON properties for every request body. */
  body?: Record<string, unknown>;
  fetch?: typeof fetch;
}

/** A refused or failed request to the chat route, with Herald's error code when it gave one. */
export class ChatRouteError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ChatRouteError';
  }
}

/**
 * An AI SDK `ChatTransport` for `useChat({ transport })`: messages go to the app's route, the answer comes
 * over Herald. Because the answer lives in the channel's history, `reconnectToStream` (`useChat`'s
 * `resume: true`) replays an unfinished answer from its start and follows it live — after a reload, on a
 * second device, after a network cut — each chunk once, in order. `stop()` publishes `answer-stop` on the
 * channel, which ends the generation wherever it runs.
 */
export function heraldChatTransport<Message extends UIMessage = UIMessage>(
  options: HeraldChatTransportOptions,
): ChatTransport<Message> {
  const channelOf = (chatId: string) =>
    typeof options.channel === 'function' ? options.channel(chatId) : options.channel;
  const client = async () => (typeof options.client === 'function' ? options.client() : options.client);
  // The answers this transport is reading, each with when its stream settles, and the messages on their
  // way to the route. useChat checks for an answer to resume (`resume: true`) while the page loads; a
  // message sent meanwhile starts one that the check would find and follow a second time, as a second reply.
  const following = new Map<string, Promise<void>>();
  const sending = new Set<Promise<unknown>>();
  const follow = (
    herald: HeraldClient,
    channel: string,
    answer: string,
    since: StreamPosition,
    signal?: AbortSignal,
  ) => {
    let settled = () => {};
    following.set(
      answer,
      new Promise<void>((resolve) => {
        settled = resolve;
      }),
    );
    return followAnswer(herald, channel, answer, since, signal, () => {
      following.delete(answer);
      settled();
    });
  };
  return {
    // A reconnect replays the answer from its `answer-start`: the chat must drop what it showed of it first.
    resumeStreamIsReplay: true,
    async sendMessages(request) {
      const sent = send(request);
      sending.add(sent);
      try {
        return await sent;
      } finally {
        sending.delete(sent);
      }
    },
    async reconnectToStream({ chatId, abortSignal: signal }) {
      const channel = channelOf(chatId);
      const herald = await client();
      const latest = await latestAnswer(herald, channel);
      if (!latest || signal?.aborted) return null;
      // A message sent before the history was read may have started this answer: its ticket says so.
      await Promise.allSettled(sending);
      const followed = following.get(latest.answer);
      if (followed) {
        // Already shown as it streams: nothing to resume once it ends (useChat keeps its status meanwhile).
        await followed;
        return null;
      }
      return follow(herald, channel, latest.answer, latest.since, signal);
    },
  };

  async function send({
    chatId,
    messages,
    trigger,
    messageId,
    abortSignal,
    headers,
    body,
    metadata,
  }: Parameters<ChatTransport<Message>['sendMessages']>[0]): Promise<ReadableStream<UIMessageChunk>> {
    const response = await (options.fetch ?? fetch)(options.api ?? '/api/chat', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(typeof options.headers === 'function' ? options.headers() : options.headers),
        ...requestHeaders(headers),
      },
      body: JSON.stringify({
        ...options.body,
        ...body,
        id: chatId,
        messages,
        trigger,
        messageId,
        metadata,
      }),
      signal: abortSignal,
    });
    if (!response.ok) throw await routeError(response);
    const ticket = (await response.json()) as AnswerTicket;
    return follow(
      await client(),
      ticket.channel,
      ticket.answer,
      { epoch: ticket.epoch, offset: ticket.offset - 1 },
      abortSignal,
    );
  }
}

/** The unfinished answer at the end of the channel, if there is one, and where it starts. */
async function latestAnswer(
  client: HeraldClient,
  channel: string,
): Promise<{ answer: string; since: StreamPosition } | null> {
  // `answer-stop` requests may follow the answer's last publication: a few are read past.
  const { publications, epoch } = await client.history(channel, { reverse: true, limit: 16 });
  const last = publications.find((pub) => pub.event !== AnswerEvents.stop);
  if (!last || ANSWER_END_EVENTS.has(last.event ?? '')) return null;
  const data = last.data as AnswerPublication;
  const start = data.start ?? last.offset;
  return { answer: data.answer, since: { epoch, offset: start - 1 } };
}

/**
 * The chunks of one answer, from `since` on, read from the channel (history first, then live) until its
 * final publication. Cancelling the stream or aborting `signal` stops the generation. `settled` is called
 * once, when the stream ends for any reason.
 */
function followAnswer(
  client: HeraldClient,
  channel: string,
  answer: string,
  since: StreamPosition,
  signal: AbortSignal | undefined,
  settled: () => void,
): ReadableStream<UIMessageChunk> {
  let unsubscribe = () => {};
  let ended = false;
  const stop = () => {
    if (ended) return;
    ended = true;
    settled();
    unsubscribe();
    client.publish(channel, { answer } satisfies AnswerStop, { event: AnswerEvents.stop });
  };
  return new ReadableStream<UIMessageChunk>({
    start(controller) {
      const end = (error?: Error) => {
        if (ended) return;
        ended = true;
        settled();
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        if (error) controller.error(error);
        else controller.close();
      };
      const onAbort = () => {
        stop();
        controller.close();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const subscription = client.subscribe(channel, {
        since,
        onPublication(pub: Publication) {
          const data = pub.data as AnswerPublication<UIMessageChunk> | null;
          if (ended || data?.answer !== answer) return;
          for (const chunk of data.chunks ?? []) controller.enqueue(chunk);
          if (ANSWER_END_EVENTS.has(pub.event ?? '')) end();
        },
        onReset() {
          end(new Error('the answer is no longer in the chat channel’s history; reload the chat'));
        },
        onError(error) {
          end(error);
        },
      });
      unsubscribe = () => subscription.unsubscribe();
    },
    cancel: stop,
  });
}

function requestHeaders(headers: ChatRequestOptions['headers']): Record<string, string> {
  if (!headers) return {};
  return headers instanceof Headers ? Object.fromEntries(headers.entries()) : headers;
}

async function routeError(response: Response): Promise<ChatRouteError> {
  const body = (await response.json().catch(() => null)) as {
    error?: { code?: string; message?: string };
  } | null;
  return new ChatRouteError(
    body?.error?.code ?? 'internal',
    body?.error?.message ?? `the chat route answered ${response.status}`,
    response.status,
  );
}
