import { createPublisher, type Publisher } from '@herald/next';
import { type Answer, chatResponse, publishAnswer } from '@herald/next/ai';
import { convertToModelMessages, streamText, type UIMessage, type UIMessageChunk } from 'ai';
import { describe, expect, it } from 'vitest';
import { mockAnswerModel } from '../../../test/support/mock-answer-model.ts';
import { clientPerTest, connected, waitForState } from '../../client/test/support/client.ts';
import { hubPerTest, type TestHub } from '../../server/test/support/hub.ts';
import { TcpProxy } from '../../server/test/support/tcp-proxy.ts';
import { ChatRouteError, heraldChatTransport } from '../src/ai/index.ts';

const { start, onCleanup } = hubPerTest();
const client = clientPerTest();
const API_KEY = 'test-key';

const tokens = (n: number) => Array.from({ length: n }, (_, i) => `t${i} `);

/**
 * The app: a hub (reached by browsers through a TCP proxy that can cut them), the chat route as a Next.js
 * Route Handler would write it, and the answers it started.
 */
async function chatApp(options: {
  words: string[];
  delayMs: number;
  remote?: boolean;
  maxPerUser?: number;
  failure?: string;
  coalesce?: { ms?: number; chunks?: number };
}) {
  const hub: TestHub = await start({ apiKey: API_KEY });
  const proxy = await TcpProxy.start(hub.port);
  onCleanup(() => proxy.close());
  const publisher: Publisher = options.remote
    ? createPublisher({ url: hub.url, apiKey: API_KEY })
    : createPublisher({ hub: hub.server.hub });
  const { model, calls } = mockAnswerModel(options.words, {
    delayMs: options.delayMs,
    failure: options.failure,
  });
  const answers: Answer[] = [];
  const waiting: Promise<unknown>[] = [];
  const route = async (request: Request) => {
    const { id, messages } = (await request.json()) as { id: string; messages: UIMessage[] };
    const modelMessages = await convertToModelMessages(messages);
    const answer = publishAnswer({
      channel: `chat:${id}`,
      publisher,
      user: request.headers.get('x-user') ?? undefined,
      maxPerUser: options.maxPerUser,
      coalesce: options.coalesce,
      stream: (signal) =>
        streamText({ model, messages: modelMessages, abortSignal: signal }).toUIMessageStream(),
    });
    answer.then((a) => answers.push(a)).catch(() => {});
    return chatResponse(answer, { waitUntil: (done) => waiting.push(done) });
  };
  const browser = async (user = 'u1') => {
    const herald = client({ url: `http://127.0.0.1:${proxy.port}` });
    await waitForState(herald, connected());
    const transport = heraldChatTransport({
      client: herald,
      channel: (chatId) => `chat:${chatId}`,
      headers: { 'x-user': user },
      fetch: (async (url: string, init: RequestInit) =>
        route(new Request(new URL(url, 'http://app.test'), init))) as typeof fetch,
    });
    return { herald, transport };
  };
  return { hub, proxy, publisher, answers, waiting, calls, browser, route };
}

const question: UIMessage[] = [
  { id: 'm1', role: 'user', parts: [{ type: 'text', text: 'Tell me a story' }] },
];

function send(transport: ReturnType<typeof heraldChatTransport>, chatId: string, signal?: AbortSignal) {
  return transport.sendMessages({
    chatId,
    messages: question,
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: signal,
  });
}

/** Reads a chunk stream to its end; `during` runs after each chunk (to cut the network, say). */
async function readAll(stream: ReadableStream<UIMessageChunk>, during?: (n: number) => void) {
  const chunks: UIMessageChunk[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
    during?.(chunks.length);
  }
}

const deltas = (chunks: UIMessageChunk[]) =>
  chunks.flatMap((c) => (c.type === 'text-delta' ? [c.delta] : []));

async function publications(hub: TestHub, channel: string) {
  return (await createPublisher({ hub: hub.server.hub }).history(channel)).publications;
}

describe.each([
  ['in-process hub', false],
  ['remote hub (createPublisher with url)', true],
])('an answer published through the %s', (_name, remote) => {
  it('arrives whole, once and in order across network cuts, in bounded publications', async () => {
    const words = tokens(300);
    // Flushes by count only, so the bound below holds however slowly a loaded machine runs the model.
    const app = await chatApp({ words, delayMs: 3, remote, coalesce: { ms: 60_000, chunks: 16 } });
    const { herald, transport } = await app.browser();
    let cuts = 0;
    const chunks = await readAll(await send(transport, 'c1'), (n) => {
      if (n % 60 === 0 && cuts < 4) cuts += app.proxy.cutAll() > 0 ? 1 : 0;
    });
    expect(cuts).toBe(4);
    expect(deltas(chunks)).toEqual(words);
    expect(chunks[0]).toMatchObject({ type: 'start' });
    expect(chunks.at(-1)).toMatchObject({ type: 'finish' });
    expect(await app.answers[0].done).toBe('finish');

    const pubs = await publications(app.hub, 'chat:c1');
    expect(pubs[0].event).toBe('answer-start');
    expect(pubs.at(-1)?.event).toBe('answer-finish');
    // At most 16 chunks a publication, plus the start and the finish: far fewer publications than chunks.
    expect(pubs.length).toBeLessThanOrEqual(Math.ceil(chunks.length / 16) + 2);
    herald.close();
  });
});

describe('a chat answered over Herald', () => {
  it('coalesces a fast 2,000-token answer into a bounded number of publications', async () => {
    const words = tokens(2000);
    // The default batch of 64 chunks; the 30 ms flush is out of the way so a loaded machine cannot split batches.
    const app = await chatApp({ words, delayMs: 0, coalesce: { ms: 60_000 } });
    const { transport } = await app.browser();
    const chunks = await readAll(await send(transport, 'fast'));
    expect(deltas(chunks)).toEqual(words);
    const pubs = await publications(app.hub, 'chat:fast');
    expect(pubs.length).toBeLessThanOrEqual(Math.ceil(chunks.length / 64) + 2);
  });

  it('gives a second device that opens the chat mid-answer the whole answer, then live', async () => {
    const words = tokens(200);
    const app = await chatApp({ words, delayMs: 5 });
    const first = await app.browser();
    const firstRead = readAll(await send(first.transport, 'c2'), () => {});
    await waitForPublications(app.hub, 'chat:c2', 4);

    const second = await app.browser();
    const resumed = await second.transport.reconnectToStream({ chatId: 'c2' });
    expect(resumed).not.toBeNull();
    const secondChunks = await readAll(resumed as ReadableStream<UIMessageChunk>);
    expect(deltas(secondChunks)).toEqual(words);
    expect(deltas(await firstRead)).toEqual(words);
    // Once the answer is finished there is nothing to resume: the app's stored messages hold it.
    expect(await second.transport.reconnectToStream({ chatId: 'c2' })).toBeNull();
  });

  it('finds nothing to resume in the answer its own message started (useChat resumes as a page loads)', async () => {
    const words = tokens(100);
    const app = await chatApp({ words, delayMs: 5 });
    const { transport } = await app.browser();
    const sent = readAll(await send(transport, 'c-own'));
    await waitForPublications(app.hub, 'chat:c-own', 2);
    // The resume check of a page that sent a message before the check had looked: no second reply.
    const resumed = transport.reconnectToStream({ chatId: 'c-own' });
    expect(deltas(await sent)).toEqual(words);
    expect(await resumed).toBeNull();
  });

  it('finds nothing to resume in an answer its own message started before the route replied', async () => {
    const words = tokens(100);
    const app = await chatApp({ words, delayMs: 5 });
    const { herald } = await app.browser();
    // The route's reply is held back: the answer is in the channel, the page does not know it is its own.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const transport = heraldChatTransport({
      client: herald,
      channel: (chatId) => `chat:${chatId}`,
      fetch: (async (url: string, init: RequestInit) => {
        const response = await app.route(new Request(new URL(url, 'http://app.test'), init));
        await held;
        return response;
      }) as typeof fetch,
    });
    const sending = send(transport, 'c-early');
    await waitForPublications(app.hub, 'chat:c-early', 2);
    const resumed = transport.reconnectToStream({ chatId: 'c-early' });
    setTimeout(release, 300);
    expect(deltas(await readAll(await sending))).toEqual(words);
    expect(await resumed).toBeNull();
  });

  it('goes on generating when the requesting browser goes away, and a reload resumes it', async () => {
    const words = tokens(150);
    const app = await chatApp({ words, delayMs: 5 });
    const requester = await app.browser();
    await send(requester.transport, 'c3');
    await waitForPublications(app.hub, 'chat:c3', 2);
    requester.herald.close();

    const reloaded = await app.browser();
    const resumed = await reloaded.transport.reconnectToStream({ chatId: 'c3' });
    expect(deltas(await readAll(resumed as ReadableStream<UIMessageChunk>))).toEqual(words);
    expect(await app.answers[0].done).toBe('finish');
    // What the route handed to `waitUntil` (Next.js `after`) is the generation, settled with its outcome.
    expect(await Promise.all(app.waiting)).toEqual(['finish']);
  });

  it('stops the generation when another client of the chat stops it', async () => {
    const words = tokens(2000);
    const app = await chatApp({ words, delayMs: 5 });
    const requester = await app.browser();
    const requesterRead = readAll(await send(requester.transport, 'c4'));
    await waitForPublications(app.hub, 'chat:c4', 3);

    const other = await app.browser();
    const stream = (await other.transport.reconnectToStream({
      chatId: 'c4',
    })) as ReadableStream<UIMessageChunk>;
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel();

    expect(await app.answers[0].done).toBe('abort');
    expect(app.calls[0].signal?.aborted).toBe(true);
    const chunks = await requesterRead;
    expect(chunks.at(-1)).toEqual({ type: 'abort' });
    const got = deltas(chunks);
    expect(got.length).toBeLessThan(words.length);
    expect(got).toEqual(words.slice(0, got.length));
    const pubs = await publications(app.hub, 'chat:c4');
    expect(pubs.filter((p) => p.event === 'answer-stop')).toHaveLength(1);
    expect(pubs.at(-1)?.event).toBe('answer-abort');
  });

  it('stops a model that has gone silent (a long tool call, say) when a client stops it', async () => {
    const hub = await start();
    let cancelled = false;
    const answer = await publishAnswer({
      channel: 'chat:silent',
      publisher: createPublisher({ hub: hub.server.hub }),
      stream: new ReadableStream({
        start(controller) {
          controller.enqueue({ type: 'start' });
        },
        cancel() {
          cancelled = true;
        },
      }),
    });
    const other = client({ url: hub.url });
    const stream = (await heraldChatTransport({ client: other, channel: 'chat:silent' }).reconnectToStream({
      chatId: 'silent',
    })) as ReadableStream<UIMessageChunk>;
    const reader = stream.getReader();
    expect(await reader.read()).toEqual({ done: false, value: { type: 'start' } });
    await reader.cancel();
    expect(await answer.done).toBe('abort');
    expect(cancelled).toBe(true);
  });

  it('stops the generation when the requester stops (useChat stop aborts the request signal)', async () => {
    const app = await chatApp({ words: tokens(2000), delayMs: 5 });
    const { transport } = await app.browser();
    const controller = new AbortController();
    const read = readAll(await send(transport, 'c5', controller.signal));
    await waitForPublications(app.hub, 'chat:c5', 3);
    controller.abort();
    await read;
    expect(await app.answers[0].done).toBe('abort');
  });

  it('ends a failing generation with an error publication the chat receives as its error chunk', async () => {
    const app = await chatApp({ words: tokens(10), delayMs: 1, failure: 'the model is overloaded' });
    const { transport } = await app.browser();
    const chunks = await readAll(await send(transport, 'failing'));
    expect(chunks.filter((c) => c.type === 'error')).toHaveLength(1);
    expect(await app.answers[0].done).toBe('error');
    const pubs = await publications(app.hub, 'chat:failing');
    expect(pubs.at(-1)?.event).toBe('answer-error');
  });

  it('ends an answer the hub refuses midway with an error its readers receive, and rejects done', async () => {
    const hub = await start({ maxPayloadBytes: 4096 });
    const herald = client({ url: hub.url });
    const huge = 'x'.repeat(8192);
    const answer = await publishAnswer({
      channel: 'chat:huge',
      publisher: createPublisher({ hub: hub.server.hub }),
      stream: new ReadableStream({
        start(controller) {
          controller.enqueue({ type: 'text-delta', id: 't', delta: huge });
          controller.close();
        },
      }),
    });
    const transport = heraldChatTransport({ client: herald, channel: 'chat:huge' });
    await expect(answer.done).rejects.toMatchObject({ code: 'payload_too_large' });
    // The answer has ended: a chat opened now does not wait for it.
    expect(await transport.reconnectToStream({ chatId: 'huge' })).toBeNull();
    const pubs = await publications(hub, 'chat:huge');
    expect(pubs.at(-1)).toMatchObject({
      event: 'answer-error',
      data: {
        chunks: [{ type: 'error', errorText: expect.stringMatching(/^the hub refused the answer: /) }],
      },
    });
  });

  it('splits chunks that arrive together into publications under the byte bound', async () => {
    const hub = await start({ maxPayloadBytes: 64 * 1024 });
    const deltas10k = Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(10_000, '.'));
    const answer = await publishAnswer({
      channel: 'chat:big',
      publisher: createPublisher({ hub: hub.server.hub }),
      stream: new ReadableStream({
        start(controller) {
          for (const delta of deltas10k) controller.enqueue({ type: 'text-delta', id: 't', delta });
          controller.close();
        },
      }),
    });
    expect(await answer.done).toBe('finish');
    const pubs = await publications(hub, 'chat:big');
    const published = pubs.flatMap((p) => (p.data as { chunks: UIMessageChunk[] }).chunks);
    expect(deltas(published)).toEqual(deltas10k);
    // 200 KB of chunks at most 32 KiB a publication: the start, at least 7 more, and no publication over it.
    expect(pubs.length).toBeGreaterThanOrEqual(8);
    for (const p of pubs) expect(JSON.stringify(p.data).length).toBeLessThan(33 * 1024);
  });

  it('refuses a generation over the per-user limit with limit_exceeded, and a bad channel with its code', async () => {
    const app = await chatApp({ words: tokens(2000), delayMs: 5, maxPerUser: 1 });
    const { transport } = await app.browser('alice');
    const controller = new AbortController();
    await send(transport, 'c6', controller.signal);
    const refused = await send(transport, 'c7').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ChatRouteError);
    expect(refused).toMatchObject({ code: 'limit_exceeded', status: 429 });
    expect((refused as Error).message).toMatch(/already generating for this user \(limit 1\)/);

    // Another user is not limited by alice's answer.
    const bob = await app.browser('bob');
    const bobRead = readAll(await send(bob.transport, 'c8'));

    const carol = await app.browser('carol');
    const badChannel = await send(carol.transport, 'has space').catch((e: unknown) => e);
    expect(badChannel).toMatchObject({ code: 'invalid_channel', status: 400 });

    // Once alice's answer ends, she may start another.
    controller.abort();
    expect(await app.answers[0].done).toBe('abort');
    await expect(send(transport, 'c9')).resolves.toBeInstanceOf(ReadableStream);
    for (const answer of app.answers) answer.stop();
    await bobRead;
  });
});

async function waitForPublications(hub: TestHub, channel: string, count: number): Promise<void> {
  await expect
    .poll(async () => (await publications(hub, channel)).length, { timeout: 15_000 })
    .toBeGreaterThanOrEqual(count);
}
