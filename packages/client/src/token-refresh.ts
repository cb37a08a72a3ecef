import { CloseCodes } from '@herald/protocol';
import type { Attempt } from './attempt.ts';
import type { HeraldClientError } from './errors.ts';

/** What the refresh needs of its connection. */
export interface RefreshHost {
  /** The connection's current attempt. */
  current(): Attempt | null;
  /** A token, or none when `getToken` failed. */
  tokenOrNone(): Promise<string | undefined>;
  /** Cuts the attempt, handled like any close. */
  abort(attempt: Attempt, code: number, reason: string): void;
}

/**
 * Keeps a live connection's token fresh: asks `getToken` for a new one before the current one expires (or
 * when the hub asks) and sends it in a `refresh` command; a refresh that fails ends the attempt.
 */
export class TokenRefresh {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly host: RefreshHost,
    private readonly options: { getToken?: () => unknown; requestTimeout: number },
  ) {}

  schedule(attempt: Attempt, expires: number | undefined): void {
    clearTimeout(this.timer);
    if (expires === undefined || !this.options.getToken) return;
    const remaining = expires * 1000 - Date.now();
    // Early enough that a slow token endpoint still answers before the hub asks.
    const margin = Math.min(60_000, Math.max(1_000, remaining / 5));
    this.timer = setTimeout(() => void this.refresh(attempt), Math.max(0, remaining - margin));
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  async refresh(attempt: Attempt): Promise<void> {
    clearTimeout(this.timer);
    if (!this.options.getToken) return;
    const token = await this.host.tokenOrNone();
    if (this.host.current() !== attempt) return;
    if (!token) {
      this.host.abort(attempt, CloseCodes.tokenExpired, 'getToken gave no token to refresh with');
      return;
    }
    try {
      const result = (await attempt.call({ type: 'refresh', token }, this.options.requestTimeout)) as {
        expires?: number;
      };
      if (this.host.current() === attempt) this.schedule(attempt, result.expires);
    } catch (err) {
      // A refused refresh: reconnect, which asks for a token once more.
      if (this.host.current() === attempt && (err as HeraldClientError).code !== 'disconnected')
        this.host.abort(attempt, CloseCodes.tokenExpired, `token refresh failed: ${(err as Error).message}`);
    }
  }
}
