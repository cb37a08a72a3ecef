import { createHash } from 'node:crypto';
import { HeraldError } from '@herald/protocol';
import type { ClientSession, RequestClient } from '../../core/auth.ts';
import { type RateKind, rateOf, TokenBucket } from '../../core/limits.ts';

/**
 * The clients of one hub whose every request is a session of its own (long-polling, client actions):
 * their publish and command buckets outlive the requests, and idle ones are swept as new ones are made.
 */
export class RequestClients {
  /** Buckets by kind and requester. */
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep = Date.now();

  /** `sweepEvery`: ms between sweeps of idle buckets. */
  constructor(
    private readonly limits: Parameters<typeof rateOf>[0],
    private readonly sweepEvery: number,
  ) {}

  /**
   * The client a request comes from: `clientId` is its own `?client=` (one per tab), if it sent one.
   * Throws `bad_request` for a malformed id.
   */
  of(clientId: string | null): RequestClient {
    if (clientId !== null && !/^[A-Za-z0-9_-]{1,64}$/.test(clientId)) {
      throw new HeraldError('bad_request', '"client" must be 1-64 characters of A-Z a-z 0-9 _ -');
    }
    return {
      presenceId: (session) => leaseId(session, clientId ?? undefined),
      bucket: (session, kind) => this.bucket(requester(session, clientId ?? undefined), kind),
    };
  }

  private bucket(requester: string, kind: RateKind): TokenBucket {
    const now = Date.now();
    if (now - this.lastSweep >= this.sweepEvery) {
      this.lastSweep = now;
      for (const [key, bucket] of this.buckets) if (bucket.idle(now)) this.buckets.delete(key);
    }
    const key = `${kind}\u0000${requester}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      const { rate, burst } = rateOf(this.limits, kind);
      bucket = new TokenBucket(rate, burst);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}

/**
 * Who a per-request client is across its requests: its user; anonymous, its IP; behind a route handler
 * that knows no IP, its own `clientId`. Its publish rate is kept under this key, which `clientId` alone
 * cannot change, so rotating ids gains nothing.
 */
function requester(session: ClientSession, clientId: string | undefined): string {
  const { identity, context } = session;
  if (identity.user !== null) return `user\u0000${identity.user}`;
  if (context.ip !== undefined) return `ip\u0000${context.ip}`;
  return `client\u0000${clientId ?? session.id}`;
}

/** A per-request client's presence member id: the requester and its `clientId`, hashed. */
function leaseId(session: ClientSession, clientId: string | undefined): string {
  const digest = createHash('sha256')
    .update(`${requester(session, clientId)}\u0000${clientId ?? ''}`)
    .digest('base64url');
  return `lease-${digest.slice(0, 22)}`;
}
