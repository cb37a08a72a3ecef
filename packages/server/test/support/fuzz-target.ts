import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HeraldConfigInput } from '../../src/config.ts';
import { freePort, type HeraldProcess, runHerald } from './process.ts';
import { RawSseStream } from './sse-client.ts';
import { SECRET } from './tokens.ts';
import { WsTestClient } from './ws-client.ts';

export const FUZZ_API_KEY = 'fuzz-api-key';
/** Where the bystanders listen; no client may publish there, and no fuzzer names it. */
export const FEED = 'watch:feed';

/** The hub under attack: every kind of namespace, tokens on, short polls so valid ones finish. */
export const FUZZ_CONFIG: HeraldConfigInput = {
  apiKey: FUZZ_API_KEY,
  tokenSecret: SECRET,
  poll: { timeout: 0.5 },
  namespaces: {
    '': {},
    '*': { historySize: 50 },
    chat: { presence: true, joinLeave: true, historySize: 20 },
    watch: { publish: 'nobody' },
    private: { subscribe: 'authenticated', publish: 'authenticated' },
    secret: { subscribe: 'token' },
  },
};

/** Waits until `/health` answers (the hub logs only warnings here, so not its "listening" line). */
async function waitHealthy(hub: HeraldProcess, port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hub.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`herald did not start:\n${hub.output()}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `herald serve` as a child process (so an exit is seen), a publisher streaming numbered publications to
 * FEED through the server API, and two bystanders reading FEED over WebSocket and SSE.
 */
export class FuzzTarget {
  private published = 0;
  private publishing: Promise<void> | undefined;
  private stopping = false;

  private constructor(
    readonly hub: HeraldProcess,
    readonly port: number,
    private readonly dir: string,
    private readonly ws: WsTestClient,
    private readonly sse: RawSseStream,
  ) {}

  static async start(): Promise<FuzzTarget> {
    const dir = await mkdtemp(join(tmpdir(), 'herald-fuzz-'));
    const configFile = join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(FUZZ_CONFIG));
    const port = await freePort();
    const hub = runHerald(['serve', '--config', configFile, '--port', String(port)], {
      HERALD_LOG_LEVEL: 'warn',
    });
    await waitHealthy(hub, port).catch(async (err) => {
      hub.child.kill();
      await rm(dir, { recursive: true, force: true });
      throw err;
    });
    const ws = await WsTestClient.open(`ws://127.0.0.1:${port}/connection/websocket`);
    await ws.call('subscribe', { channel: FEED });
    const sse = await RawSseStream.open(`http://127.0.0.1:${port}/connection/sse?channel=${FEED}`);
    const target = new FuzzTarget(hub, port, dir, ws, sse);
    target.publishing = target.publishSteadily();
    return target;
  }

  /** Whether the hub process is still running. */
  get alive(): boolean {
    return this.hub.child.exitCode === null && this.hub.child.signalCode === null;
  }

  get publications(): number {
    return this.published;
  }

  /** One numbered publication every few milliseconds until `stop`, each waiting for the last. */
  private async publishSteadily(): Promise<void> {
    while (!this.stopping && this.alive) {
      const res = await fetch(`http://127.0.0.1:${this.port}/api/publish`, {
        method: 'POST',
        headers: { authorization: `apikey ${FUZZ_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: FEED, data: { n: this.published } }),
      });
      if (res.status !== 200) throw new Error(`the feed publish got ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
      this.published++;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Stops publishing and resolves with what each bystander received of FEED, as publication numbers, once
   * both have everything published or `timeoutMs` passed.
   */
  async stop(timeoutMs = 20_000): Promise<{ websocket: number[]; sse: number[]; published: number }> {
    this.stopping = true;
    await this.publishing;
    const received = () => ({
      websocket: this.ws.publications
        .filter((p) => p.channel === FEED)
        .map((p) => (p.data as { n: number }).n),
      sse: this.sse.publications.filter((p) => p.channel === FEED).map((p) => (p.data as { n: number }).n),
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const now = received();
      if (now.websocket.length >= this.published && now.sse.length >= this.published) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return { ...received(), published: this.published };
  }

  /** Output of the hub process (its warnings and errors), for a failure message. */
  output(): string {
    return this.hub.output();
  }

  async close(): Promise<void> {
    this.stopping = true;
    await this.publishing?.catch(() => undefined);
    this.ws.terminate();
    await this.sse.close();
    if (this.alive) {
      this.hub.child.kill('SIGTERM');
      await this.hub.exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
