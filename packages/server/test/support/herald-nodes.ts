import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FetchLike } from 'eventsource';
import type { HeraldConfigInput } from '../../src/config.ts';
import { freePort, type HeraldProcess, runHerald, waitListening } from './process.ts';

export interface HeraldNode {
  index: number;
  proc: HeraldProcess;
  port: number;
  url: string;
  wsUrl: string;
  alive: boolean;
}

/**
 * Several `herald serve` processes sharing one broker, as a deployment runs them: each on its own port,
 * with the same config file.
 */
export class HeraldNodes {
  private constructor(readonly nodes: HeraldNode[]) {}

  static async start(count: number, broker: string, config: HeraldConfigInput = {}): Promise<HeraldNodes> {
    const file = join(mkdtempSync(join(tmpdir(), 'herald-nodes-')), 'herald.json');
    writeFileSync(file, JSON.stringify(config));
    const nodes = await Promise.all(
      Array.from({ length: count }, async (_, index): Promise<HeraldNode> => {
        const port = await freePort();
        const proc = runHerald(['serve', '--port', String(port), '--broker', broker, '--config', file]);
        return {
          index,
          proc,
          port,
          url: `http://127.0.0.1:${port}`,
          wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
          alive: true,
        };
      }),
    );
    const set = new HeraldNodes(nodes);
    try {
      await Promise.all(nodes.map((n) => waitListening(n.proc)));
    } catch (err) {
      set.killAll();
      throw err;
    }
    return set;
  }

  /**
   * From node `home` on, a different node on every call: clients that move on when a connection fails
   * (they know no more than the list of nodes).
   */
  rotation<T>(home: number, pick: (node: HeraldNode) => T): () => T {
    let calls = 0;
    return () => pick(this.nodes[(home + calls++) % this.nodes.length]);
  }

  /**
   * A `fetch` for an `EventSource` that moves to the next node when one refuses the connection or
   * answers 503 (an `EventSource` gives up for good on any status but 200). Its own reconnects carry
   * `Last-Event-ID`, so the stream resumes wherever it lands.
   */
  failoverFetch(home: number, deadlineMs = 30_000): FetchLike {
    const next = this.rotation(home, (node) => node);
    return async (url, init) => {
      const deadline = Date.now() + deadlineMs;
      for (;;) {
        const target = new URL(url);
        target.port = String(next().port);
        try {
          const res = await fetch(target, init);
          if (res.status !== 503 || Date.now() > deadline) return res;
          await res.body?.cancel();
        } catch (err) {
          if (Date.now() > deadline || init.signal?.aborted) throw err;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
  }

  /** Kills a node abruptly (SIGKILL): no drain, no goodbye to the broker. */
  async kill(index: number): Promise<void> {
    const node = this.nodes[index];
    node.alive = false;
    node.proc.child.kill('SIGKILL');
    await node.proc.exited;
  }

  killAll(): void {
    for (const node of this.nodes) {
      node.alive = false;
      node.proc.child.kill('SIGKILL');
    }
  }

  /**
   * Publishes through the HTTP API of node `from`, retrying as a careful app does: the same idempotency
   * key every time, the next node when one does not answer, again after a pause while the broker is
   * `unavailable` (503). Throws after `deadlineMs`.
   */
  async publish(
    from: number,
    channel: string,
    data: unknown,
    idempotencyKey: string,
    deadlineMs = 30_000,
  ): Promise<{ epoch: string; offset: number; attempts: number; unavailable: number }> {
    const deadline = Date.now() + deadlineMs;
    let node = from;
    let unavailable = 0;
    for (let attempts = 1; ; attempts++) {
      try {
        const res = await fetch(`${this.nodes[node].url}/api/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ channel, data, idempotencyKey }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = await res.json();
        if (res.ok) return { ...body, attempts, unavailable };
        if (res.status !== 503) throw new Error(`publish refused: ${res.status} ${JSON.stringify(body)}`);
        unavailable++;
      } catch (err) {
        if ((err as Error).message.startsWith('publish refused')) throw err;
        node = (node + 1) % this.nodes.length;
      }
      if (Date.now() > deadline) throw new Error(`publish of ${idempotencyKey} did not succeed in time`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
