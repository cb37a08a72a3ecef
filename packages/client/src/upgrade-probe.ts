import type { Attempt } from './attempt.ts';
import type { Transport, TransportConnection } from './transport.ts';

/** What the probe needs of its connection. */
export interface UpgradeHost {
  /** The connection's current attempt. */
  current(): Attempt | null;
  /** A token, or none when `getToken` failed. */
  tokenOrNone(): Promise<string | undefined>;
  /** The preferred transport works: end the current attempt and reconnect on it. */
  switchOver(): void;
}

/**
 * On a fallback transport, tries the preferred one now and then: a full `connect` handshake (without
 * channels) on the side. When it succeeds the client switches over: a short planned reconnect that
 * resumes every channel from its position.
 */
export class UpgradeProbe {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private delay: number;
  private probe: TransportConnection | undefined;

  constructor(
    private readonly host: UpgradeHost,
    /** The connection's: `upgradeRetryDelay` is the first probe's delay, doubled after each failed one. */
    private readonly options: {
      url: string;
      transports: Transport[];
      connectTimeout: number;
      upgradeRetryDelay: number;
    },
  ) {
    this.delay = options.upgradeRetryDelay;
  }

  schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), this.delay);
  }

  /** Back to the first delay: the preferred transport is the one in use. */
  reset(): void {
    this.delay = this.options.upgradeRetryDelay;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.probe?.close();
    this.probe = undefined;
  }

  private async run(): Promise<void> {
    const current = this.host.current();
    if (!current?.connected || current.index === 0) return;
    const token = await this.host.tokenOrNone();
    if (this.host.current() !== current) return;
    let settled = false;
    const settle = (works: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.probe?.close();
      this.probe = undefined;
      if (this.host.current() !== current) return;
      if (!works) {
        this.delay = Math.min(this.delay * 2, 10 * 60_000);
        this.schedule();
        return;
      }
      this.host.switchOver();
    };
    const timer = setTimeout(() => settle(false), this.options.connectTimeout);
    const probe = this.options.transports[0].open(this.options.url, {
      open: () =>
        probe.send(token ? { id: 1, type: 'connect', token, subs: {} } : { id: 1, type: 'connect' }),
      frame: (frame) => {
        if ('id' in frame && frame.id === 1) settle(frame.result !== undefined);
      },
      close: () => settle(false),
      position: () => undefined, // the probe subscribes to nothing
    });
    this.probe = probe;
  }
}
