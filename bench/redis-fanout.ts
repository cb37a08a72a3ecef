/**
 * Fan-out through the Redis broker with 1, 2 and 3 hub nodes, next to the memory broker, in one run.
 *
 *   npx tsx --conditions=@herald/source bench/redis-fanout.ts [--subscribers 300] [--burst 2000] [--paced 600] [--rate 300]
 *
 * Each configuration runs `herald serve` processes (one per node) on loopback; the Redis ones share a
 * private `redis-server` on a free port (no persistence). WebSocket subscribers are spread evenly over
 * the nodes, all on one channel; one publisher connection per node publishes round-robin, so with
 * several nodes most publications cross Redis to reach most subscribers.
 *
 * - latency: `--paced` publications at `--rate` per second; publish-to-receive at every 10th subscriber
 *   (publisher and subscribers share this process's monotonic clock);
 * - throughput: `--burst` publications with 64 in flight; deliveries/s = subscribers x burst / time
 *   until the last subscriber has the last one. Server CPU is hub processes + redis-server, from /proc.
 *
 * Everything is bounded: connects and drains have deadlines, and a run that misses one says so.
 * On a 2-core machine the nodes, Redis and this generator share the cores: read multi-node rows as the
 * cost of the broker hop, not as scaling (for scaling, give each node its own cores).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { HeraldNodes } from '../packages/server/test/support/herald-nodes.ts';
import { RedisServer } from '../packages/server/test/support/redis-server.ts';
import { buildPackages } from '../scripts/build-packages.ts';

const { values: flags } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '300' },
    burst: { type: 'string', default: '2000' },
    paced: { type: 'string', default: '600' },
    rate: { type: 'string', default: '300' },
  },
});
const SUBSCRIBERS = Number(flags.subscribers);
const BURST = Number(flags.burst);
const PACED = Number(flags.paced);
const RATE = Number(flags.rate);
const WINDOW = 64;
const SAMPLE_EVERY = 10;
const CHANNEL = 'bench:fanout';
const DEADLINE_MS = 60_000;

/** A subscriber that counts publication frames; every SAMPLE_EVERY-th one also decodes them for latency. */
class Subscriber {
  received = 0;
  readonly latencies: number[] | null;
  private constructor(
    readonly ws: WebSocket,
    sampled: boolean,
  ) {
    this.latencies = sampled ? [] : null;
    ws.on('message', (raw: Buffer) => {
      // Pushes start with {"type":"..."}; replies with {"id":...}.
      if (raw[9] === 0x70 /* p */ && raw.subarray(0, 14).toString() === '{"type":"pub",') {
        this.received++;
        if (this.latencies) this.latencies.push(performance.now() - JSON.parse(String(raw)).data.t);
      } else if (raw.subarray(0, 15).toString() === '{"type":"ping"}') {
        ws.send('{"type":"pong"}');
      }
    });
  }

  static async open(url: string, sampled: boolean): Promise<Subscriber> {
    const ws = new WebSocket(url);
    const sub = new Subscriber(ws, sampled);
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, type: 'connect', subs: { [CHANNEL]: {} } })));
      const onReply = (raw: Buffer) => {
        const frame = JSON.parse(String(raw));
        if (frame.id !== 1) return;
        ws.off('message', onReply);
        if (frame.result?.subs?.[CHANNEL]?.error || frame.error) reject(new Error(String(raw)));
        else resolve();
      };
      ws.on('message', onReply);
    });
    return sub;
  }
}

/** One publishing connection: `publish` commands, replies matched by id. */
class Publisher {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw: Buffer) => {
      const frame = JSON.parse(String(raw));
      if (typeof frame.id === 'number') {
        const waiter = this.waiting.get(frame.id);
        this.waiting.delete(frame.id);
        if (frame.error) waiter?.reject(new Error(`command failed: ${String(raw)}`));
        else waiter?.resolve();
      } else if (frame.type === 'ping') ws.send('{"type":"pong"}');
    });
  }

  static async open(url: string): Promise<Publisher> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const publisher = new Publisher(ws);
    await publisher.command({ type: 'connect' });
    return publisher;
  }

  private command(fields: Record<string, unknown>): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, ...fields }));
    });
  }

  publish(i: number): Promise<void> {
    return this.command({
      type: 'publish',
      channel: CHANNEL,
      data: { t: performance.now(), i, pad: 'x'.repeat(64) },
    });
  }
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function until(check: () => boolean, what: string): Promise<boolean> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!check()) {
    if (Date.now() > deadline) {
      console.error(`  deadline passed waiting for ${what}`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

interface Row {
  broker: string;
  nodes: number;
  p50: number;
  p99: number;
  deliveriesPerSec: number;
  publishesPerSec: number;
  serverCpu: number;
  generatorCpu: number;
  complete: boolean;
}

async function measure(broker: 'memory' | 'redis', nodeCount: number, redis: RedisServer): Promise<Row> {
  const label = broker === 'memory' ? 'memory' : 'redis';
  process.stdout.write(`${label}, ${nodeCount} node(s): starting… `);
  const nodes = await HeraldNodes.start(nodeCount, broker === 'memory' ? 'memory' : redis.url, {
    limits: { publishRate: 0, commandRate: 0, channelsPerIp: 0, connectionsPerUser: 0 },
  });
  const clients: WebSocket[] = [];
  try {
    const subscribers: Subscriber[] = [];
    for (let k = 0; k < SUBSCRIBERS; k += 50) {
      const batch = Array.from({ length: Math.min(50, SUBSCRIBERS - k) }, (_, j) =>
        Subscriber.open(nodes.nodes[(k + j) % nodeCount].wsUrl, (k + j) % SAMPLE_EVERY === 0),
      );
      subscribers.push(...(await Promise.all(batch)));
    }
    const publishers = await Promise.all(nodes.nodes.map((n) => Publisher.open(n.wsUrl)));
    clients.push(...subscribers.map((s) => s.ws), ...publishers.map((p) => p.ws));
    let published = 0;
    const allHave = (n: number) => subscribers.every((s) => s.received >= n);

    // Latency at a steady rate.
    process.stdout.write('latency… ');
    const tick = 10;
    const perTick = Math.max(1, Math.round((RATE * tick) / 1000));
    const sending: Promise<void>[] = [];
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (let i = 0; i < perTick && published < PACED; i++, published++) {
          sending.push(publishers[published % publishers.length].publish(published));
        }
        if (published >= PACED) {
          clearInterval(timer);
          resolve();
        }
      }, tick);
    });
    await Promise.all(sending);
    let complete = await until(() => allHave(published), 'paced deliveries');
    const latencies = subscribers.flatMap((s) => s.latencies ?? []).sort((a, b) => a - b);

    // Throughput: a burst with a bounded number in flight.
    process.stdout.write('throughput… ');
    const pids = nodes.nodes.map((n) => n.proc.child.pid as number);
    if (broker === 'redis') pids.push(redis.pid);
    const cpuBefore = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const ownBefore = process.cpuUsage();
    const target = published + BURST;
    const started = performance.now();
    let next = published;
    const lane = async () => {
      while (next < target) {
        const i = next++;
        await publishers[i % publishers.length].publish(i);
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, lane));
    const publishedAt = performance.now();
    complete = (await until(() => allHave(target), 'burst deliveries')) && complete;
    const elapsed = (performance.now() - started) / 1000;
    const cpu = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - cpuBefore;
    const own = process.cpuUsage(ownBefore);
    console.log('done');
    return {
      broker: label,
      nodes: nodeCount,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      deliveriesPerSec: (SUBSCRIBERS * BURST) / elapsed,
      publishesPerSec: BURST / ((publishedAt - started) / 1000),
      serverCpu: cpu / elapsed,
      generatorCpu: (own.user + own.system) / 1e6 / elapsed,
      complete,
    };
  } finally {
    for (const ws of clients) ws.terminate();
    nodes.killAll();
    await Promise.all(nodes.nodes.map((n) => n.proc.exited));
  }
}

await buildPackages(); // the nodes are `herald serve` processes: compiled dist/, kept fresh
const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const redis = await RedisServer.start();
const rows: Row[] = [];
try {
  rows.push(await measure('memory', 1, redis));
  for (const n of [1, 2, 3]) rows.push(await measure('redis', n, redis));
} finally {
  await redis.stop();
}

const base = rows[0];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
console.log(
  `\n${SUBSCRIBERS} WebSocket subscribers on one channel; latency: ${PACED} publications at ${RATE}/s; ` +
    `throughput: ${BURST} publications, ${WINDOW} in flight. Load average before/after: ${loadBefore}/` +
    `${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]} on ${availableParallelism()} cores ` +
    '(above the core count, other jobs shared the machine: treat the figures as noisy)\n',
);
console.log(
  '| broker | nodes | p50 ms | p99 ms | deliveries/s | publishes/s | server CPU | generator CPU | throughput vs memory | p50 vs memory | complete |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.broker} | ${r.nodes} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.deliveriesPerSec)} | ` +
      `${fmt(r.publishesPerSec)} | ${fmt(r.serverCpu, 2)} | ${fmt(r.generatorCpu, 2)} | ${fmt(r.deliveriesPerSec / base.deliveriesPerSec, 2)}x | ` +
      `${fmt(r.p50 / base.p50, 2)}x | ${r.complete ? 'all' : 'NO'} |`,
  );
}
