/**
 * Fan-out to N SSE subscribers next to N WebSocket subscribers of one Herald hub, in the same run:
 * deliveries per second, p50/p99 latency (publish in the hub to parse in the client) and the hub's
 * memory per connection. Loopback only, bounded in count and time.
 *
 *     npx tsx --conditions=@herald/source bench/sse-vs-websocket.ts [--clients 500] [--messages 400] [--rate 100] [--channels 1] [--json]
 *
 * Per transport: `messages` publications at `rate` per second for latency, then `messages` as fast as the
 * hub takes them for throughput; the two transports alternate. The hub runs in a child process (this
 * file, `hub` mode) so its memory is measured alone; the clients are deliberately thin (a raw HTTP reader
 * for SSE, `ws` for WebSocket) and share the machine's cores with the hub, as on any loopback bench.
 * `--channels K` subscribes every client to K-1 idle channels too: an SSE event's id then encodes K
 * positions per connection instead of being shared.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { get } from 'node:http';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const now = () => performance.timeOrigin + performance.now();

type ToHub = { type: 'memory' } | { type: 'publish'; channel: string; count: number; rate: number };
type FromHub =
  | { type: 'ready'; port: number }
  | { type: 'memory'; heapUsed: number; rss: number; external: number }
  | { type: 'published' };

// ---- hub process

async function runHub(): Promise<void> {
  const { HeraldServer } = await import('@herald/server');
  const server = await HeraldServer.create({
    config: { port: 0, maxQueueBytes: 64 * 1024 * 1024, sse: { heartbeat: 30 }, pingInterval: 30 },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const send = (message: FromHub) => process.send?.(message);
  process.on('message', async (message: ToHub) => {
    if (message.type === 'memory') {
      for (let i = 0; i < 3; i++) {
        globalThis.gc?.();
        await new Promise((r) => setTimeout(r, 50));
      }
      const { heapUsed, rss, external } = process.memoryUsage();
      send({ type: 'memory', heapUsed, rss, external });
    } else {
      // Publish at `rate` per second in ticks of 10 ms (0: as fast as the hub takes them, yielding
      // now and then so fan-out flushes), stamping each with the time of publishing.
      const perTick = message.rate > 0 ? Math.max(1, Math.round(message.rate / 100)) : 20;
      for (let sent = 0; sent < message.count; ) {
        const tick = now();
        for (let i = 0; i < perTick && sent < message.count; i++, sent++) {
          await server.hub.publish(message.channel, { data: { t: now(), n: sent } });
        }
        const wait = message.rate > 0 ? Math.max(0, 10 - (now() - tick)) : 0;
        await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
      }
      send({ type: 'published' });
    }
  });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
  send({ type: 'ready', port });
}

// ---- bench process

class Hub {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<Hub> {
    const child = fork(process.argv[1], ['hub'], { execArgv: [...process.execArgv, '--expose-gc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: FromHub) => (m.type === 'ready' ? resolve(m.port) : reject(m)));
      child.once('exit', (code) => reject(new Error(`hub exited with ${code}`)));
    });
    return new Hub(child, port);
  }

  request<T extends FromHub>(message: ToHub, answer: T['type']): Promise<T> {
    return new Promise((resolve) => {
      const listener = (m: FromHub) => {
        if (m.type !== answer) return;
        this.child.off('message', listener);
        resolve(m as T);
      };
      this.child.on('message', listener);
      this.child.send(message);
    });
  }

  stop(): void {
    this.child.disconnect();
  }
}

/** Latencies in ms of every delivery to one transport's clients. */
class Tally {
  readonly latencies: number[] = [];

  take(t: number): void {
    this.latencies.push(now() - t);
  }
}

function openSse(port: number, channels: string[], tally: Tally): Promise<void> {
  const query = channels.map((c) => `channel=${c}`).join('&');
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: `/connection/sse?${query}`, agent: false }, (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const data = event.indexOf('\ndata: ');
          if (data === -1) continue;
          const json = JSON.parse(event.slice(data + 7));
          if (json.type === 'pub') tally.take(json.data.t);
          else if (json.type === 'subscribed' && json.channel === channels[0]) resolve();
        }
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}

function openWebSocket(port: number, channels: string[], tally: Tally): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/connection/websocket`, { perMessageDeflate: false });
    const subs = Object.fromEntries(channels.map((c) => [c, {}]));
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, type: 'connect', subs })));
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      if (frame.type === 'pub') tally.take(frame.data.t);
      else if (frame.type === 'ping') ws.send('{"type":"pong"}');
      else if (frame.id === 1) {
        resolve(ws);
      }
    });
    ws.on('error', reject);
  });
}

/** Opens `count` connections, a few hundred at a time. */
async function connectAll(count: number, open: () => Promise<unknown>): Promise<void> {
  for (let opened = 0; opened < count; ) {
    const batch = Math.min(200, count - opened);
    await Promise.all(Array.from({ length: batch }, open));
    opened += batch;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function runBench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '500' },
      messages: { type: 'string', default: '400' },
      rate: { type: 'string', default: '100' },
      channels: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const clients = Math.min(5000, Number(values.clients));
  const messages = Math.min(10_000, Number(values.messages));
  const rate = Math.min(10_000, Number(values.rate));
  const idle = Array.from(
    { length: Math.min(100, Number(values.channels)) - 1 },
    (_, i) => `bench:idle-${i}`,
  );
  const deadline = Date.now() + 120_000;

  const hub = await Hub.start();
  const memory = () => hub.request<Extract<FromHub, { type: 'memory' }>>({ type: 'memory' }, 'memory');
  const tallies = { sse: new Tally(), websocket: new Tally() };
  const sockets: WebSocket[] = [];
  try {
    const base = await memory();
    await connectAll(clients, () => openSse(hub.port, ['bench:sse', ...idle], tallies.sse));
    const withSse = await memory();
    await connectAll(clients, async () =>
      sockets.push(await openWebSocket(hub.port, ['bench:ws', ...idle], tallies.websocket)),
    );
    const withBoth = await memory();
    const perConnection = {
      sse: { heap: (withSse.heapUsed - base.heapUsed) / clients, rss: (withSse.rss - base.rss) / clients },
      websocket: {
        heap: (withBoth.heapUsed - withSse.heapUsed) / clients,
        rss: (withBoth.rss - withSse.rss) / clients,
      },
    };

    const channels = { sse: 'bench:sse', websocket: 'bench:ws' };
    /** Publishes and waits for every client to have every publication; returns the elapsed ms. */
    const phase = async (transport: 'sse' | 'websocket', pace: number): Promise<number> => {
      const tally = tallies[transport];
      const expected = tally.latencies.length + clients * messages;
      const started = now();
      await hub.request(
        { type: 'publish', channel: channels[transport], count: messages, rate: pace },
        'published',
      );
      while (tally.latencies.length < expected && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2));
      }
      return now() - started;
    };
    const paced = { sse: [] as number[], websocket: [] as number[] };
    const elapsed = { sse: 0, websocket: 0 };
    for (const transport of ['sse', 'websocket', 'websocket', 'sse'] as const) {
      if (paced[transport].length === 0) {
        await phase(transport, rate);
        paced[transport] = tallies[transport].latencies.splice(0);
      } else {
        elapsed[transport] = await phase(transport, 0);
      }
    }
    const rows = (['sse', 'websocket'] as const).map((transport) => {
      const sorted = paced[transport].sort((a, b) => a - b);
      const flooded = tallies[transport].latencies.sort((a, b) => a - b);
      return {
        transport,
        clients,
        'deliveries/s': Math.round(flooded.length / (elapsed[transport] / 1000)),
        'p50 ms': Number(percentile(sorted, 0.5).toFixed(2)),
        'p99 ms': Number(percentile(sorted, 0.99).toFixed(2)),
        'p99 ms flooded': Number(percentile(flooded, 0.99).toFixed(1)),
        lost: clients * messages * 2 - sorted.length - flooded.length,
        'hub heap/conn KiB': Number((perConnection[transport].heap / 1024).toFixed(1)),
        'hub rss/conn KiB': Number((perConnection[transport].rss / 1024).toFixed(1)),
      };
    });
    if (values.json) {
      console.log(JSON.stringify({ clients, messages, rate, rows }, null, 2));
    } else {
      console.log(
        `${clients} SSE + ${clients} WebSocket subscribers on one hub; per transport ${messages} publications ` +
          `at ${rate}/s (latency) and ${messages} unpaced (deliveries/s, p99 flooded); ` +
          `${idle.length + 1} channel(s) per client; loopback`,
      );
      console.table(rows);
    }
  } finally {
    for (const ws of sockets) ws.terminate();
    hub.stop();
    // The SSE sockets end with the hub.
    setTimeout(() => process.exit(0), 500).unref();
  }
}

if (process.argv[2] === 'hub') await runHub();
else await runBench();
