/**
 * Lifecycle webhooks under churn: 1,000 clients connecting, subscribing and leaving over 3 `herald serve`
 * nodes on one Redis, all events going to one receiver that refuses a share of them with 503.
 *
 *   npx tsx --conditions=@herald/source bench/webhooks-churn.ts [--clients 1000] [--nodes 3] [--seconds 30]
 *     [--channels 50] [--refuse 0.05] [--grace 5] [--pace 1] [--concurrency 32]
 *
 * Each client loops until the end of the run: connect to a random node with a token of its own user and
 * two channels of `--channels` (presence on), stay 1-6 s, leave (a clean close, or one in five cut without
 * a close frame), stay away 0.1-4 s (often within the grace: a flap); `--pace 4` makes both 4x longer.
 * Each node sends with `--concurrency` requests in flight (the config's default, 32). The receiver is a plain HTTP server
 * in this process that verifies every request with the `standardwebhooks` package and answers 503 to a
 * `--refuse` share of them (the nodes retry). Latency is from the event's `timestamp` (when the hub decided
 * it) to its arrival at the receiver, for the try that was accepted (also for the events accepted at their
 * first try: those of a client waiting behind one being retried still wait, to keep the order); the hubs
 * and the receiver share this machine's clock.
 *
 * At the end every client leaves, the run waits for the grace and the queues to empty (bounded), reads
 * `herald_webhooks_*` from each node's /metrics, and checks what arrived: each client connected before it
 * disconnected, once each; each member joined and left as often; each channel occupied and vacated
 * alternately, vacated last; no event accepted twice. Loopback only; every wait has a deadline.
 */

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { WebhookEvent } from '@herald/protocol';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { HeraldNodes } from '../packages/server/test/support/herald-nodes.ts';
import { RedisServer } from '../packages/server/test/support/redis-server.ts';
import { buildPackages } from '../scripts/build-packages.ts';
import type { Accepted, ReceiverReport } from './webhooks-receiver.ts';

const { values: flags } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    nodes: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '30' },
    channels: { type: 'string', default: '50' },
    refuse: { type: 'string', default: '0.05' },
    grace: { type: 'string', default: '5' },
    pace: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '32' },
  },
});
const CLIENTS = Number(flags.clients);
const NODES = Number(flags.nodes);
const SECONDS = Number(flags.seconds);
const CHANNELS = Number(flags.channels);
const REFUSE = Number(flags.refuse);
const GRACE = Number(flags.grace);
/** Stays and absences are this many times longer: fewer events per second from the same clients. */
const PACE = Number(flags.pace);
const CONCURRENCY = Number(flags.concurrency);
const TOKEN_SECRET = randomBytes(32).toString('hex');
const SETTLE_DEADLINE_MS = 120_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = (min: number, max: number) => min + Math.random() * (max - min);

/** The app's endpoint, in a process of its own (bench/webhooks-receiver.ts). */
async function startReceiver(secret: string) {
  const child = fork(fileURLToPath(new URL('./webhooks-receiver.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx', '--conditions=@herald/source'],
    env: { ...process.env, WEBHOOK_SECRET: secret, REFUSE: String(REFUSE) },
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the receiver exited (${code})`)));
  });
  return {
    port,
    report: () =>
      new Promise<ReceiverReport>((resolve) => {
        child.once('message', (m) => resolve((m as { report: ReceiverReport }).report));
        child.send('report');
      }),
    pid: child.pid,
    stop: () => child.kill(),
  };
}

/** One churning client: connects with its user's token and two channels, stays, leaves, comes back. */
class Churner {
  connections = 0;
  private ws: WebSocket | null = null;

  constructor(
    private readonly token: string,
    private readonly urls: string[],
  ) {}

  async run(until: number): Promise<void> {
    while (Date.now() < until) {
      const a = Math.floor(Math.random() * CHANNELS);
      const b = (a + 1 + Math.floor(Math.random() * (CHANNELS - 1))) % CHANNELS;
      const url = this.urls[Math.floor(Math.random() * this.urls.length)];
      if (await this.connect(url, [`room:${a}`, `room:${b}`])) {
        this.connections++;
        await sleep(PACE * between(1_000, 6_000));
        this.leave(Math.random() < 0.2);
      }
      await sleep(PACE * between(100, 4_000));
    }
  }

  /** Leaves for good (the end of the run). */
  stop(): void {
    this.leave(false);
  }

  private leave(cut: boolean): void {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    if (cut) ws.terminate();
    else ws.close();
  }

  private connect(url: string, channels: string[]): Promise<boolean> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => done(false), 10_000);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        if (ok) this.ws = ws;
        else ws.terminate();
        resolve(ok);
      };
      ws.on('error', () => done(false));
      ws.on('open', () => {
        const subs = Object.fromEntries(channels.map((c) => [c, {}]));
        ws.send(JSON.stringify({ id: 1, type: 'connect', token: this.token, subs }));
      });
      ws.on('message', (raw: Buffer) => {
        const text = String(raw);
        if (text === '{"type":"ping"}') ws.send('{"type":"pong"}');
        else if (text.startsWith('{"id":1,')) done(!JSON.parse(text).error);
      });
    });
  }
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `herald_webhooks_*` summed over the nodes' /metrics. */
async function nodeCounters(nodes: HeraldNodes): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const node of nodes.nodes) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    for (const [, name, value] of text.matchAll(/^herald_webhooks_(\w+) (\d+(?:\.\d+)?)$/gm))
      totals[name] = (totals[name] ?? 0) + Number(value);
  }
  return totals;
}

/**
 * What must hold of the events accepted, once each (a receiver drops repeats of a `webhook-id`: a try whose
 * 2xx came back too late is sent again), whatever the interleaving.
 */
function check(accepted: Accepted[]): {
  duplicates: number;
  crossNodeInversions: number;
  problems: string[];
} {
  const problems: string[] = [];
  const ids = new Set<string>();
  let duplicates = 0;
  const clients = new Map<string, string[]>();
  const members = new Map<string, number>();
  const channels = new Map<string, WebhookEvent[]>();
  for (const { id, event } of accepted) {
    if (ids.has(id)) {
      duplicates++;
      continue;
    }
    ids.add(id);
    if (event.type === 'client.connected' || event.type === 'client.disconnected') {
      const list = clients.get(event.data.client) ?? [];
      list.push(event.type);
      clients.set(event.data.client, list);
    } else if (event.type === 'presence.joined' || event.type === 'presence.left') {
      const key = `${event.data.channel} ${event.data.member.client}`;
      members.set(key, (members.get(key) ?? 0) + (event.type === 'presence.joined' ? 1 : -1));
    } else if (event.type === 'channel.occupied' || event.type === 'channel.vacated') {
      const list = channels.get(event.data.channel) ?? [];
      list.push(event);
      channels.set(event.data.channel, list);
    }
  }
  for (const [client, list] of clients)
    if (list.join() !== 'client.connected,client.disconnected')
      problems.push(`client ${client}: ${list.join()}`);
  for (const [member, balance] of members)
    if (balance !== 0) problems.push(`member ${member}: joined - left = ${balance}`);
  // Each node sends a channel's events in order; across nodes only their timestamps order them.
  let crossNodeInversions = 0;
  for (const [channel, list] of channels) {
    const types = list.map((e) => e.type);
    const byTime = [...list]
      .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp))
      .map((e) => e.type);
    const alternates = (seq: string[]) =>
      seq.every((t, i) => t === (i % 2 === 0 ? 'channel.occupied' : 'channel.vacated'));
    if (!alternates(types)) crossNodeInversions++;
    if (!alternates(byTime) || types.length % 2 !== 0) problems.push(`channel ${channel}: ${byTime.join()}`);
  }
  return { duplicates, crossNodeInversions, problems };
}

await buildPackages(); // the nodes are `herald serve` processes: compiled dist/, kept fresh
const loadBefore = loadavg()[0];
const secret = `whsec_${randomBytes(32).toString('base64')}`;
const receiver = await startReceiver(secret);
const receiverPort = receiver.port;
const redis = await RedisServer.start();
let nodes: HeraldNodes | undefined;
try {
  nodes = await HeraldNodes.start(NODES, redis.url, {
    tokenSecret: TOKEN_SECRET,
    presence: { grace: GRACE },
    limits: { connectionsPerUser: 10 },
    webhooks: [
      {
        url: `http://127.0.0.1:${receiverPort}/hooks`,
        secret,
        retryDelayMs: 200,
        maxRetryDelayMs: 5_000,
        concurrency: CONCURRENCY,
      },
    ],
  });
  const key = new TextEncoder().encode(TOKEN_SECRET);
  const churners = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`user${i}`)
        .sign(key);
      return new Churner(
        token,
        (nodes as HeraldNodes).nodes.map((n) => n.wsUrl),
      );
    }),
  );
  console.error(`churning ${CLIENTS} clients over ${NODES} nodes for ${SECONDS} s...`);
  const started = Date.now();
  await Promise.all(churners.map((c) => c.run(started + SECONDS * 1000)));
  for (const c of churners) c.stop();
  const churnSeconds = (Date.now() - started) / 1000;

  // Quiet: every grace ends, every queue empties (bounded).
  await sleep(GRACE * 1000 + 1_500);
  const deadline = Date.now() + SETTLE_DEADLINE_MS;
  let counters = await nodeCounters(nodes);
  while (counters.queue_depth > 0 && Date.now() < deadline) {
    await sleep(250);
    counters = await nodeCounters(nodes);
  }
  const { accepted, ...receiverCounts } = await receiver.report();
  const latencies = accepted.map((a) => a.latency).sort((x, y) => x - y);
  // Events accepted at their first try (those of a client behind one being retried wait for it: order).
  const firstTry = accepted
    .filter((a) => !a.retried)
    .map((a) => a.latency)
    .sort((x, y) => x - y);
  const byType: Record<string, number> = {};
  for (const { event } of accepted) byType[event.type] = (byType[event.type] ?? 0) + 1;
  const { duplicates, crossNodeInversions, problems } = check(accepted);
  const logs = nodes.nodes.map((n) => n.proc.output()).join('');
  const warnings = {
    ledgerChangeFailed: logs.split('webhook ledger change failed').length - 1,
    deliveryFailed: logs.split('webhook delivery failed').length - 1,
  };
  const cpu = {
    nodes: nodes.nodes.reduce((sum, n) => sum + cpuSeconds(n.proc.child.pid), 0),
    redis: cpuSeconds(redis.pid),
    receiver: cpuSeconds(receiver.pid),
  };
  const result = {
    date: new Date().toISOString(),
    clients: CLIENTS,
    nodes: NODES,
    seconds: Number(churnSeconds.toFixed(1)),
    channels: CHANNELS,
    graceSeconds: GRACE,
    refusedShare: REFUSE,
    pace: PACE,
    concurrency: CONCURRENCY,
    eventsPerSecond: Math.round(accepted.length / churnSeconds),
    connections: churners.reduce((n, c) => n + c.connections, 0),
    nodeCounters: counters,
    receiver: { ...receiverCounts, accepted: accepted.length, duplicates },
    /** Channels whose occupied/vacated arrived out of order (sent by different nodes), in order by timestamp. */
    crossNodeInversions,
    byType,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1),
    },
    latencyFirstTryMs: {
      events: firstTry.length,
      p50: percentile(firstTry, 50),
      p99: percentile(firstTry, 99),
    },
    warnings,
    cpuSeconds: cpu,
    problems: problems.length,
    problemSamples: problems.slice(0, 10),
    loadAverage: { before: loadBefore, after: loadavg()[0], cores: availableParallelism() },
  };
  mkdirSync(new URL('results/', import.meta.url), { recursive: true });
  const variant = `${CLIENTS}c-${NODES}n-pace${PACE}-conc${CONCURRENCY}`;
  const file = new URL(`results/webhooks-churn-${result.date.slice(0, 10)}-${variant}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  nodes?.killAll();
  await redis.stop();
  receiver.stop();
}
