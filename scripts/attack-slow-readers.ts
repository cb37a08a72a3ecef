/**
 * The non-reading-client attack of issue 13, against a real `herald serve` on loopback: clients that
 * connect over WebSocket, send `history` commands for a big channel and never read a byte. Prints the
 * hub's peak RSS, how long `/health` took to answer meanwhile, how many clients the hub cut as slow
 * consumers, and the hub's memory once they have gone (after a forced garbage collection).
 *
 *   npx tsx scripts/attack-slow-readers.ts [-- --clients 10 --commands 5 --publications 1000 --size 60000 --broker memory|redis]
 *
 * Garbage collection and `process.memoryUsage()` are asked of the hub through its inspector (the hub runs
 * with `--inspect` on a free loopback port), so the hub needs no hook of its own. Bounded: the attack
 * lasts `--seconds`, then every socket is closed and the hub is stopped.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { nonReadingClient } from '../packages/server/test/support/non-reading-client.ts';
import { freePort, runHerald, waitListening } from '../packages/server/test/support/process.ts';
import { RedisServer } from '../packages/server/test/support/redis-server.ts';
import { buildPackages } from './build-packages.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '10' },
    commands: { type: 'string', default: '5' },
    publications: { type: 'string', default: '1000' },
    size: { type: 'string', default: '60000' },
    seconds: { type: 'string', default: '15' },
    /** `memory` (default) or `redis`: a private redis-server on a free port. */
    broker: { type: 'string', default: 'memory' },
  },
});
const clients = Number(values.clients);
const commands = Number(values.commands);
const publications = Number(values.publications);
const size = Number(values.size);
const seconds = Number(values.seconds);
const channel = 'attack:big';
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

function statusField(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.split(/\s+/)[1]) * 1024 : 0;
}
const rssOf = (pid: number) => statusField(pid, 'VmRSS');
/** The kernel's high-water mark of the process's RSS since it started. */
const peakOf = (pid: number) => statusField(pid, 'VmHWM');

async function slowConsumerCount(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('herald_slow_consumers_total'));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

/** The hub's inspector (Chrome DevTools Protocol): forces a full GC and reads `process.memoryUsage()`. */
class Inspector {
  private nextId = 1;
  private constructor(private readonly ws: WebSocket) {}

  static async open(port: number): Promise<Inspector> {
    const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      webSocketDebuggerUrl: string;
    }[];
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Inspector(ws);
  }

  private call(method: string, params: object = {}): Promise<{ result?: { value?: unknown } }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(data.toString());
        if (message.id !== id) return;
        this.ws.off('message', onMessage);
        resolve(message.result);
      };
      this.ws.on('message', onMessage);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async memory(): Promise<NodeJS.MemoryUsage> {
    await this.call('HeapProfiler.collectGarbage');
    const { result } = await this.call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
    });
    return JSON.parse(result?.value as string);
  }

  close(): void {
    this.ws.close();
  }
}

const redis = values.broker === 'redis' ? await RedisServer.start() : undefined;
await buildPackages(); // the hub is the `herald` CLI, which runs the compiled dist/
const port = await freePort();
const inspectPort = await freePort();
const hub = runHerald(['serve', '--port', String(port), '--broker', redis?.url ?? 'memory'], {
  NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}`,
});
const base = `http://127.0.0.1:${port}`;

try {
  await waitListening(hub);
  const inspector = await Inspector.open(inspectPort);
  const pid = hub.child.pid!;

  const payload = 'x'.repeat(size);
  for (let i = 0; i < publications; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, publications - i) }, () =>
        fetch(`${base}/api/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ channel, data: payload }),
        }).then(async (r) => {
          if (!r.ok) throw new Error(`publish failed: ${r.status} ${await r.text()}`);
        }),
      ),
    );
  }
  const before = await inspector.memory();

  // Sample RSS and probe /health for the length of the attack.
  let peakSampled = 0;
  const sampler = setInterval(() => {
    peakSampled = Math.max(peakSampled, rssOf(pid));
  }, 50);
  const health = { probes: 0, slowest: 0, over1s: 0, failed: 0 };
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const started = Date.now();
      const ok = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) }).then(
        (r) => r.ok,
        () => false,
      );
      const took = Date.now() - started;
      health.probes++;
      health.slowest = Math.max(health.slowest, took);
      if (took > 1_000) health.over1s++;
      if (!ok) health.failed++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const sockets = await Promise.all(
    Array.from({ length: clients }, () =>
      nonReadingClient(
        port,
        Array.from({ length: commands }, (_, i) => JSON.stringify({ id: i + 1, type: 'history', channel })),
      ),
    ),
  );
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const during = await inspector.memory();
  const slowConsumers = await slowConsumerCount(base);
  for (const socket of sockets) socket.destroy();
  await new Promise((r) => setTimeout(r, 3_000));
  probing = false;
  await prober;
  clearInterval(sampler);
  const after = await inspector.memory();
  const peak = peakOf(pid);
  inspector.close();

  console.log(
    JSON.stringify(
      {
        attack: { clients, commands, publications, size, seconds, broker: values.broker },
        rssMB: {
          beforeAttack: mb(before.rss),
          // Sampled every 50 ms while the attack ran; the kernel's high-water mark includes filling the channel.
          peakDuringAttack: mb(peakSampled),
          peakSinceStart: mb(peak),
          endOfAttack: mb(during.rss),
          afterClientsLeft: mb(after.rss),
        },
        heapAfterGcMB: {
          beforeAttack: mb(before.heapUsed + before.external),
          endOfAttack: mb(during.heapUsed + during.external),
          afterClientsLeft: mb(after.heapUsed + after.external),
        },
        slowConsumersCut: slowConsumers,
        health: { ...health, answeredThroughout: health.failed === 0 && health.slowest < 5_000 },
      },
      null,
      2,
    ),
  );
} finally {
  hub.child.kill('SIGTERM');
  await hub.exited;
  await redis?.stop();
}
