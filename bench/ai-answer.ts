/**
 * A 2,000-token AI answer end to end, in the same run: a plain AI SDK streaming response
 * (`toUIMessageStreamResponse()` read over HTTP) against the same answer through `publishAnswer` and
 * `heraldChatTransport` over a real hub and WebSocket. Reports tokens per second (request to last token)
 * and, for Herald, publications per answer. The model is the AI SDK's mock (`ai/test`): no network, no
 * weights, as fast as the CPU allows (`--token-ms 0`, no timer between tokens) or paced.
 *
 *     npx tsx --conditions=@herald/source bench/ai-answer.ts [--tokens 2000] [--rounds 5] [--token-ms 0] [--json]
 *
 * Loopback only; bounded by `rounds`. Both sides run in this process, which is what the browser and the
 * route share on a laptop too; the figures compare the two paths, not absolute capacity.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createClient, type HeraldClient } from '@herald/client';
import { createPublisher } from '@herald/next';
import { chatResponse, publishAnswer } from '@herald/next/ai';
import { heraldChatTransport } from '@herald/react/ai';
import { HeraldServer } from '@herald/server';
import { streamText, type UIMessageChunk } from 'ai';
import WebSocket from 'ws';
import { mockAnswerModel } from '../test/support/mock-answer-model.ts';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    'token-ms': { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
  },
});
const TOKENS = Number(values.tokens);
const ROUNDS = Number(values.rounds);
const TOKEN_MS = Number(values['token-ms']);

const words = Array.from({ length: TOKENS }, (_, i) => `w${i} `);
const model = () => mockAnswerModel(words, { delayMs: TOKEN_MS, noTimer: TOKEN_MS === 0 }).model;

const answerStream = (abortSignal?: AbortSignal) =>
  streamText({ model: model(), prompt: 'Tell me a story', abortSignal }).toUIMessageStream();

/** The plain AI SDK route: the answer as the response's SSE body. */
async function plainRun(port: number): Promise<number> {
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST' });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let tokens = 0;
  let rest = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += decoder.decode(value, { stream: true });
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.includes('"text-delta"')) tokens++;
  }
  if (tokens !== TOKENS) throw new Error(`plain: ${tokens} tokens of ${TOKENS}`);
  return performance.now() - started;
}

async function heraldRun(client: HeraldClient, hub: HeraldServer, chat: string) {
  const publisher = createPublisher({ hub: hub.hub });
  const route = async () =>
    chatResponse(publishAnswer({ channel: `chat:${chat}`, publisher, stream: answerStream }));
  const transport = heraldChatTransport({
    client,
    channel: (id) => `chat:${id}`,
    fetch: route as typeof fetch,
  });
  const started = performance.now();
  const stream = await transport.sendMessages({
    chatId: chat,
    messages: [],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  });
  let tokens = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = (await reader.read()) as ReadableStreamReadResult<UIMessageChunk>;
    if (done) break;
    if (value.type === 'text-delta') tokens++;
  }
  const ms = performance.now() - started;
  if (tokens !== TOKENS) throw new Error(`herald: ${tokens} tokens of ${TOKENS}`);
  const { publications } = await publisher.history(`chat:${chat}`);
  return { ms, publications: publications.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const plain = createServer((_req, res) => {
    const body = streamText({ model: model(), prompt: 'Tell me a story' }).toUIMessageStreamResponse();
    res.writeHead(200, Object.fromEntries(body.headers.entries()));
    const reader = (body.body as ReadableStream<Uint8Array>).getReader();
    const pump = async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return res.end();
        res.write(value);
      }
    };
    void pump();
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  const plainPort = (plain.address() as { port: number }).port;

  const hub = await HeraldServer.create({
    config: { port: 0, namespaces: { chat: { historySize: 10_000, historyTtl: 600 } } },
  });
  const { port } = await hub.listen(0, '127.0.0.1');
  const client = createClient({ url: `http://127.0.0.1:${port}`, WebSocket: WebSocket as never });

  const plainMs: number[] = [];
  const heraldMs: number[] = [];
  const pubs: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      plainMs.push(await plainRun(plainPort));
      const run = await heraldRun(client, hub, `bench${round}`);
      heraldMs.push(run.ms);
      pubs.push(run.publications);
    }
  } finally {
    client.close();
    await hub.close();
    plain.close();
  }
  const result = {
    tokens: TOKENS,
    tokenMs: TOKEN_MS,
    rounds: ROUNDS,
    plain: {
      tokensPerSecond: Math.round(TOKENS / (median(plainMs) / 1000)),
      medianMs: Math.round(median(plainMs)),
    },
    herald: {
      tokensPerSecond: Math.round(TOKENS / (median(heraldMs) / 1000)),
      medianMs: Math.round(median(heraldMs)),
      publicationsPerAnswer: median(pubs),
      publicationsMax: Math.max(...pubs),
    },
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`${TOKENS}-token answer, mock model at ${TOKEN_MS} ms/token, median of ${ROUNDS} rounds`);
    console.log(
      `plain AI SDK response : ${result.plain.tokensPerSecond} tokens/s (${result.plain.medianMs} ms)`,
    );
    console.log(
      `Herald (hub + ws)     : ${result.herald.tokensPerSecond} tokens/s (${result.herald.medianMs} ms), ` +
        `${result.herald.publicationsPerAnswer} publications per answer (max ${result.herald.publicationsMax})`,
    );
  }
}

await main();
