import type { BrowserContext } from 'playwright-core';
import { TcpProxy } from '../../../../packages/server/test/support/tcp-proxy.ts';
import { allowConsole, demoUrl } from './browser.ts';

/** What Chromium logs for requests and sockets that fail on a network that is down. */
const NETWORK_DOWN = /net::ERR_|WebSocket connection to .* failed/;

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
   * The network goes down for this context: every open connection (WebSocket, SSE, fetch) is cut with no
   * close handshake, new ones are reset, and the browser is told it is offline. Returns how many
   * connections were cut. What the browser logs about requests failing from now on is expected. The cut comes before the offline switch, so the browser sees its sockets die
   * rather than stall (Chromium's offline emulation holds back events of sockets already open).
   */
  async cut(context: BrowserContext): Promise<number> {
    allowConsole(context, NETWORK_DOWN);
    this.proxy.refusing = true;
    const cut = this.proxy.cutAll();
    await context.setOffline(true);
    return cut;
  }

  async restore(context: BrowserContext): Promise<void> {
    this.proxy.refusing = false;
    await context.setOffline(false);
  }

  close(): Promise<void> {
    return this.proxy.close();
  }
}
