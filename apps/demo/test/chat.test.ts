import type { BrowserContext, Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { browserPerFile, hubApi, screenshot, signedIn, unique } from './support/browser.ts';
import { Network } from './support/network.ts';

const chrome = browserPerFile();

/** A signed-in user on a network path of their own, with the room open. */
async function join(
  name: string,
  room: string,
): Promise<{ context: BrowserContext; page: Page; network: Network }> {
  const network = await Network.start();
  const context = await signedIn(chrome.browser, name, network.url);
  chrome.onCleanup(
    () => network.close(),
    () => context.close(),
  );
  const page = await context.newPage();
  await page.goto(`/chat/${room}`);
  await connected(page);
  return { context, page, network };
}

const connected = (page: Page) =>
  expect.poll(() => page.getByTestId('connection-state').getAttribute('data-status')).toBe('connected');

/** The texts of the room's lines, in order (small rooms: every line is rendered). */
const transcript = (page: Page) => page.getByTestId('message').locator('.text').allTextContents();

const stateOf = (page: Page, text: string) =>
  page.getByTestId('message').filter({ hasText: text }).getByTestId('message-state').textContent();

async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel('message').fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** Every text of the room as the hub holds it, in offset order. */
async function hubTranscript(room: string): Promise<string[]> {
  const { publications } = await hubApi<{ publications: Array<{ data: { text: string } }> }>('history', {
    channel: `chat:${room}`,
  });
  return publications.map((p) => p.data.text);
}

it('two people chat: each sees the other, message states, presence and typing', async () => {
  const room = unique('room');
  const [ada, bob] = [unique('ada'), unique('bob')];
  const a = await join(ada, room);
  const b = await join(bob, room);

  await expect.poll(() => a.page.getByTestId('present-user').allTextContents()).toEqual([ada, bob].sort());
  await expect.poll(() => b.page.getByTestId('present-user').allTextContents()).toEqual([ada, bob].sort());

  await a.page.getByLabel('message').pressSequentially('hel');
  await expect.poll(() => b.page.getByTestId('typing').textContent()).toBe(`${ada} is typing…`);

  await send(a.page, 'hello from ada');
  await expect.poll(() => stateOf(a.page, 'hello from ada')).toBe('sent ✓');
  await expect.poll(() => transcript(b.page)).toEqual(['hello from ada']);
  await send(b.page, 'hi ada, bob here');
  await expect.poll(() => transcript(a.page)).toEqual(['hello from ada', 'hi ada, bob here']);
  await expect.poll(() => stateOf(b.page, 'hi ada, bob here')).toBe('sent ✓');
  // Others' lines carry no state; only the sender sees where theirs stands.
  expect(
    await b.page
      .getByTestId('message')
      .filter({ hasText: 'hello from ada' })
      .getByTestId('message-state')
      .count(),
  ).toBe(0);
  await screenshot(a.page, 'chat-room');
});

it('a network cut loses and doubles nothing, in either direction', async () => {
  const room = unique('room');
  const [ada, bob] = [unique('ada'), unique('bob')];
  const a = await join(ada, room);
  const b = await join(bob, room);
  await send(a.page, 'before the cut');
  await expect.poll(() => transcript(b.page)).toEqual(['before the cut']);

  expect(await a.network.cut(a.context)).toBeGreaterThan(0);
  await expect
    .poll(() => a.page.getByTestId('connection-state').getAttribute('data-status'))
    .not.toBe('connected');

  // Ada writes while offline: her lines wait in the outbox, visibly not sent.
  await send(a.page, 'ada offline 1');
  await send(a.page, 'ada offline 2');
  expect(['sending…', 'failed']).toContain(await stateOf(a.page, 'ada offline 1'));
  expect(['sending…', 'failed']).toContain(await stateOf(a.page, 'ada offline 2'));
  // Bob goes on meanwhile.
  for (const text of ['bob 1', 'bob 2', 'bob 3']) await send(b.page, text);
  await expect.poll(() => transcript(b.page)).toEqual(['before the cut', 'bob 1', 'bob 2', 'bob 3']);
  await screenshot(a.page, 'chat-offline');

  await a.network.restore(a.context);
  await connected(a.page);
  // Failed lines (if the outbox gave up while offline) are retried by hand, as a user would.
  for (const retry of await a.page.getByRole('button', { name: 'Retry' }).all()) await retry.click();

  const expected = ['before the cut', 'bob 1', 'bob 2', 'bob 3', 'ada offline 1', 'ada offline 2'];
  await expect.poll(() => hubTranscript(room)).toEqual(expected);
  await expect.poll(() => transcript(a.page)).toEqual(expected);
  await expect.poll(() => transcript(b.page)).toEqual(expected);
  await expect.poll(() => stateOf(a.page, 'ada offline 2')).toBe('sent ✓');
  expect(await stateOf(a.page, 'ada offline 1')).toBe('sent ✓');
  await screenshot(a.page, 'chat-after-cut');
});

it('a message written offline survives closing the tab, and is sent once when back', async () => {
  const room = unique('room');
  const ada = unique('ada');
  const a = await join(ada, room);
  await a.network.cut(a.context);
  await expect
    .poll(() => a.page.getByTestId('connection-state').getAttribute('data-status'))
    .not.toBe('connected');
  await send(a.page, 'written on the train');
  expect(['sending…', 'failed']).toContain(await stateOf(a.page, 'written on the train'));
  // The outbox keeps it in IndexedDB: closing the tab does not lose it.
  await a.page.close();
  await a.network.restore(a.context);

  const page = await a.context.newPage();
  await page.goto(`/chat/${room}`);
  await connected(page);
  for (const retry of await page.getByRole('button', { name: 'Retry' }).all()) await retry.click();
  await expect.poll(() => stateOf(page, 'written on the train')).toBe('sent ✓');
  await expect.poll(() => hubTranscript(room)).toEqual(['written on the train']);
  expect(await transcript(page)).toEqual(['written on the train']);
});

it('a message the hub refuses shows as failed, and can be retried or cancelled', async () => {
  const room = unique('room');
  const a = await join(unique('ada'), room);
  // Over the hub's 64 KiB payload limit: refused, not retried forever.
  const huge = `too long ${'x'.repeat(70_000)}`;
  await send(a.page, huge);
  await expect.poll(() => stateOf(a.page, 'too long')).toBe('failed');
  await a.page.getByRole('button', { name: 'Retry' }).click();
  await expect.poll(() => stateOf(a.page, 'too long')).toBe('failed');
  await screenshot(a.page, 'chat-failed');
  await a.page.getByRole('button', { name: 'Cancel' }).click();
  await expect.poll(() => a.page.getByTestId('message').count()).toBe(0);
  await send(a.page, 'a short one');
  await expect.poll(() => stateOf(a.page, 'a short one')).toBe('sent ✓');
  expect(await hubTranscript(room)).toEqual(['a short one']);
});

it('two tabs of one browser share one connection', async () => {
  const room = unique('room');
  const ada = unique('ada');
  const a = await join(ada, room);
  const second = await a.context.newPage();
  const sockets: string[] = [];
  second.on('websocket', (ws) => sockets.push(ws.url()));
  await second.goto(`/chat/${room}`);
  await connected(second);
  await send(second, 'from the second tab');
  await expect.poll(() => transcript(a.page)).toEqual(['from the second tab']);
  // Presence counts connections: one for Ada, however many tabs she has open.
  const { members } = await hubApi<{ members: Record<string, { user: string }> }>('presence', {
    channel: `chat:${room}`,
  });
  expect(Object.values(members).filter((m) => m.user === ada)).toHaveLength(1);
  expect(sockets, 'the second tab rides on the first tab’s WebSocket').toEqual([]);
});

it('falls back to SSE, then long-polling, where WebSocket (and then SSE) is blocked', async () => {
  const room = unique('room');
  const [ada, bob] = [unique('ada'), unique('bob')];
  const b = await join(bob, room);
  // Ada's browser sits behind something that lets no WebSocket through.
  const network = await Network.start();
  const context = await signedIn(chrome.browser, ada, network.url);
  chrome.onCleanup(
    () => network.close(),
    () => context.close(),
  );
  await context.routeWebSocket(/\/connection\/websocket/, (ws) =>
    ws.close({ code: 1008, reason: 'blocked' }),
  );
  const page = await context.newPage();
  await page.goto(`/chat/${room}`);
  await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('connected · sse');
  await expect.poll(() => b.page.getByTestId('present-user').allTextContents()).toEqual([ada, bob].sort());
  await send(page, 'ada over sse');
  await expect.poll(() => stateOf(page, 'ada over sse')).toBe('sent ✓');
  await send(b.page, 'bob to sse');
  await expect.poll(() => transcript(page)).toEqual(['ada over sse', 'bob to sse']);
  await screenshot(page, 'chat-sse');

  // Now SSE is blocked too: the next connection falls back to long-polling and resumes the room.
  await context.route(/\/connection\/sse/, (route) => route.abort());
  await network.cut(context);
  await send(b.page, 'bob while ada reconnects');
  await network.restore(context);
  await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('connected · poll');
  await send(page, 'ada over long-polling');
  await send(b.page, 'bob to the poller');
  const expected = [
    'ada over sse',
    'bob to sse',
    'bob while ada reconnects',
    'ada over long-polling',
    'bob to the poller',
  ];
  await expect.poll(() => hubTranscript(room)).toEqual(expected);
  await expect.poll(() => transcript(page)).toEqual(expected);
  await expect.poll(() => transcript(b.page)).toEqual(expected);
});

it('a long room renders a window of its lines and loads older ones on scroll-back', async () => {
  const room = unique('long');
  const a = await join(unique('ada'), room);
  await a.page.getByRole('button', { name: 'Add 1,000 messages' }).click();
  await expect
    .poll(() => a.page.getByTestId('messages').textContent(), { timeout: 60_000 })
    .toContain('backlog 1000:');

  const list = a.page.getByTestId('messages');
  // A thousand lines in the room, a few dozen in the DOM.
  expect(Number(await list.getAttribute('data-rendered'))).toBeLessThan(60);

  // Reload: the page starts from the latest page of history and reaches the first line by scrolling up.
  await a.page.reload();
  await connected(a.page);
  await expect.poll(() => a.page.getByTestId('loaded-count').getAttribute('data-count')).toBe('50');
  // Each page of older lines is inserted above the reader without moving what they look at, so the
  // reader keeps scrolling up until the first line shows.
  const scrollUp = () =>
    list.evaluate((el) => {
      el.scrollTop = 0;
    });
  await expect
    .poll(
      async () => {
        await scrollUp();
        return a.page.getByTestId('loaded-count').getAttribute('data-count');
      },
      { timeout: 60_000 },
    )
    .toBe('1000');
  await expect
    .poll(async () => {
      await scrollUp();
      return list.textContent();
    })
    .toContain('backlog 1:');
  expect(Number(await list.getAttribute('data-rendered'))).toBeLessThan(60);
  await screenshot(a.page, 'chat-long-room');
});

it('when the tab holding the connection closes, another tab takes it over and misses nothing', async () => {
  const room = unique('room');
  const ada = unique('ada');
  const first = await join(ada, room); // the first tab opens the connection
  const second = await first.context.newPage();
  await second.goto(`/chat/${room}`);
  await connected(second);
  await send(second, 'before the hand-over');
  await expect.poll(() => transcript(second)).toEqual(['before the hand-over']);
  await first.page.close();
  await hubApi('publish', {
    channel: `chat:${room}`,
    data: { id: unique('m'), user: 'server', text: 'during the hand-over', at: Date.now() },
  });
  await connected(second);
  await expect.poll(() => transcript(second)).toEqual(['before the hand-over', 'during the hand-over']);
  const presence = () =>
    hubApi<{ members: Record<string, unknown> }>('presence', { channel: `chat:${room}` }).then(
      (r) => Object.keys(r.members).length,
    );
  await expect.poll(presence).toBe(1); // the second tab's own connection now
});
