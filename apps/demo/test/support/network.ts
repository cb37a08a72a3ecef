import type { BrowserContext } from 'playwright-core';
import { TcpProxy } from '../../../../packages/server/test/support/tcp-proxy.ts';
import { demoUrl } from './browser.ts';

/**
 * A network path of its own between one browser context and the demo server, so a test can cut that
 * context's connections (WebSocket, SSE, fetch) at the TCP level while the others stay up.
 */
export class Network {
  private constructor(
    private readonly proxy: TcpProxy,
    readonly url: string,
  ) {}

  static async start(): Promise<Network> {
    const proxy = await TcpProxy.start(Number(new URL(demoUrl).port));
    return new Network(proxy, `http://127.0.0.1:${proxy.port}`);
  }

  /**
   * The context goes offline (new requests fail, as without Wi-Fi) and every open connection is cut with no
   * close handshake. Returns how many connections were cut.
   */
  async cut(context: BrowserContext): Promise<number> {
    await context.setOffline(true);
    return this.proxy.cutAll();
  }

  async restore(context: BrowserContext): Promise<void> {
    await context.setOffline(false);
  }

  close(): Promise<void> {
    return this.proxy.close();
  }
}
