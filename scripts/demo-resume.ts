/**
 * Shows the core guarantee end to end: 1,000 WebSocket subscribers receive 10,000 publications with
 * zero loss and zero duplicates while their connections are cut again and again, each reconnect
 * resuming from its last {epoch, offset}. The hub runs as a real `herald serve` process.
 *
 *   npm run demo:resume [-- --subscribers 1000 --publications 10000]
 */
import { parseArgs } from 'node:util';
import { freePort, runHerald, waitListening } from '../packages/server/test/support/process.ts';
import { ResumingSubscriber } from '../packages/server/test/support/resuming-subscriber.ts';
import { buildPackages } from './build-packages.ts';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    publications: { type: 'string', default: '10000' },
  },
});
const subscriberCount = Number(values.subscribers);
const total = Number(values.publications);
const channel = 'demo:resume';

await buildPackages(); // the hub is the `herald` CLI, which runs the compiled dist/
const port = await freePort();
const hub = runHerald(['serve', '--port', String(port)]);
await waitListening(hub);
const url = `ws://127.0.0.1:${port}/connection/websocket`;

const subscribers = Array.from(
  { length: subscriberCount },
  () => new ResumingSubscriber(url, channel, total),
);
for (let i = 0; i < subscribers.length; i += 100)
  await Promise.all(subscribers.slice(i, i + 100).map((s) => s.start()));
console.log(
  `${subscriberCount} subscribers connected; publishing ${total} publications with forced reconnects`,
);

let forcedCuts = 0;
const cutter = setInterval(() => {
  // Cut a random tenth of the live connections mid-stream.
  for (const s of subscribers) {
    if (Math.random() < 0.1 && s.cut()) forcedCuts++;
  }
}, 150);

const started = Date.now();
for (let sent = 0; sent < total; ) {
  const batch = [];
  for (let i = 0; i < 50 && sent < total; i++, sent++) {
    batch.push(
      fetch(`http://127.0.0.1:${port}/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel, data: { n: sent } }),
      }).then((r) => {
        if (!r.ok) throw new Error(`publish failed with ${r.status}`);
      }),
    );
  }
  await Promise.all(batch);
}
clearInterval(cutter);

const deadline = Date.now() + 120_000;
while (subscribers.some((s) => s.offset < total) && Date.now() < deadline)
  await new Promise((r) => setTimeout(r, 100));
const seconds = (Date.now() - started) / 1000;

const sum = (key: keyof ResumingSubscriber['tally']) => subscribers.reduce((n, s) => n + s.tally[key], 0);
const complete = subscribers.filter((s) => s.offset === total && s.tally.received === total).length;
const expected = subscriberCount * total;
console.log(`
subscribers                 ${subscriberCount}
publications                ${total}
deliveries expected         ${expected}
deliveries received         ${sum('received')}
lost                        ${expected - sum('received') + sum('duplicates')}
duplicates                  ${sum('duplicates')}
out of order                ${sum('outOfOrder')}
forced cuts                 ${forcedCuts}
reconnects (all resumed)    ${sum('reconnects')}
recovered: false            ${sum('notRecovered')}
subscribers complete        ${complete}/${subscriberCount}
seconds                     ${seconds.toFixed(1)}`);

for (const s of subscribers) s.stop();
hub.child.kill('SIGTERM');
await hub.exited;
const ok = complete === subscriberCount && sum('duplicates') === 0 && sum('outOfOrder') === 0;
console.log(ok ? '\nOK: zero loss, zero duplicates' : '\nFAILED');
process.exit(ok ? 0 : 1);
