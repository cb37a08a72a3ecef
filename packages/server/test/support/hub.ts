import type { ChannelDefinitions } from '@herald/protocol';
import { afterEach } from 'vitest';
import type { HeraldConfigInput } from '../../src/config.ts';
import type { Authenticator } from '../../src/core/auth.ts';
import type { Broker } from '../../src/core/broker.ts';
import { HeraldServer } from '../../src/server.ts';

export interface TestHub {
  server: HeraldServer;
  /** `http://127.0.0.1:PORT` */
  url: string;
  wsUrl: string;
  port: number;
  publish(
    channel: string,
    data: unknown,
    extra?: Record<string, unknown>,
  ): Promise<{ epoch: string; offset: number }>;
  close(): Promise<void>;
}

/** A real hub on a free loopback port. */
export async function startHub(
  config: HeraldConfigInput = {},
  extra: {
    broker?: Broker;
    authenticator?: Authenticator;
    port?: number;
    channels?: ChannelDefinitions;
  } = {},
): Promise<TestHub> {
  const server = await HeraldServer.create({
    config: { host: '127.0.0.1', port: extra.port ?? 0, ...config },
    broker: extra.broker,
    authenticator: extra.authenticator,
    channels: extra.channels,
  });
  const address = await server.listen(extra.port ?? 0, '127.0.0.1');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    server,
    url,
    wsUrl: `ws://127.0.0.1:${address.port}/connection/websocket`,
    port: address.port,
    async publish(channel, data, more = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (config.apiKey) headers.authorization = `apikey ${config.apiKey}`;
      const res = await fetch(`${url}/api/publish`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ channel, data, ...more }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(`publish failed: ${res.status} ${JSON.stringify(body)}`);
      return body;
    },
    close: () => server.close(),
  };
}

/**
 * For a test file: returns `startHub`, with every hub it started closed after each test
 * (and any `extra` closables registered with `onCleanup`).
 */
export function hubPerTest(): {
  start: typeof startHub;
  onCleanup: (close: () => unknown) => void;
} {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of cleanups.splice(0).reverse()) await close();
  });
  return {
    async start(config, extra) {
      const hub = await startHub(config, extra);
      cleanups.push(() => hub.close());
      return hub;
    },
    onCleanup: (close) => cleanups.push(close),
  };
}
