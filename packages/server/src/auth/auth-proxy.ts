import { createHash } from 'node:crypto';
import { HeraldError } from '@herald/protocol';
import type { ConnectContext, Credentials, Identity, SubscriptionRequest } from '../core/auth.ts';

export interface AuthProxyOptions {
  connectUrl?: string;
  subscribeUrl?: string;
  /** Seconds. */
  timeout: number;
  /** Seconds. */
  cacheTtl: number;
}

interface Cached<T> {
  expiresAt: number;
  answer: Promise<T>;
}

/** Answers kept at most; the oldest go first, so a flood of distinct credentials cannot grow memory. */
const MAX_CACHED = 10_000;

/**
 * Asks the app's own routes (for example a Next.js route handler reading its session cookie) who a client
 * is and whether it may subscribe. The client's cookie and token are forwarded; answers are cached for
 * `cacheTtl` per credentials, and identical questions in flight share one request, so a reconnect storm
 * costs the app one call per user. A slow or failing route refuses with `unavailable`, never hangs.
 */
export class AuthProxy {
  private readonly cache = new Map<string, Cached<unknown>>();

  constructor(private readonly options: AuthProxyOptions) {}

  get decidesConnections(): boolean {
    return this.options.connectUrl !== undefined;
  }

  /**
   * `POST connectUrl` with `{transport, ip, origin}` plus the client's Cookie and `Authorization: Bearer`
   * token. 200 `{user, info?, expiresAt?}` admits (`user: null`: anonymous); 401/403 refuses.
   */
  connect(credentials: Credentials, context: ConnectContext): Promise<Identity> {
    const body = { transport: context.transport, ip: context.ip, origin: context.origin };
    return this.ask(
      this.options.connectUrl as string,
      credentials,
      body,
      [credentials.token, credentials.cookie],
      (answer) => {
        if (answer.refused) throw refusal(answer, 'unauthorized', 'the auth proxy refused the connection');
        return identityFrom(answer.body);
      },
    );
  }

  /**
   * `POST subscribeUrl` with `{channel, user, token?}` (token: the subscription token, if the client sent
   * one) plus the connection's Cookie and token. 2xx allows; 401/403 refuses.
   */
  async subscribe(request: SubscriptionRequest): Promise<void> {
    if (this.options.subscribeUrl === undefined) {
      throw new HeraldError('forbidden', `no auth proxy subscribeUrl is configured for ${request.channel}`);
    }
    const { channel, identity, token, credentials } = request;
    await this.ask(
      this.options.subscribeUrl,
      credentials,
      { channel, user: identity.user, token },
      [channel, identity.user, token, credentials.token, credentials.cookie],
      (answer) => {
        if (answer.refused) {
          throw refusal(answer, 'forbidden', `the auth proxy refused the subscription to ${channel}`);
        }
      },
    );
  }

  /**
   * One cached, de-duplicated question. Refusals are cached like approvals; failing to get an answer
   * (`unavailable`) is not, so the next attempt asks again.
   */
  private ask<T>(
    url: string,
    credentials: Credentials,
    body: Record<string, unknown>,
    key: unknown[],
    decide: (answer: Answer) => T,
  ): Promise<T> {
    const id = createHash('sha256')
      .update(JSON.stringify([url, ...key]))
      .digest('base64url');
    const now = Date.now();
    const cached = this.cache.get(id);
    if (cached && cached.expiresAt > now) return cached.answer as Promise<T>;
    const answer = this.post(url, credentials, body).then(decide);
    this.cache.delete(id);
    this.cache.set(id, { expiresAt: now + this.options.cacheTtl * 1000, answer });
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    answer.catch((err: unknown) => {
      const refused = err instanceof HeraldError && err.code !== 'unavailable';
      if (!refused && this.cache.get(id)?.answer === answer) this.cache.delete(id);
    });
    return answer;
  }

  private async post(url: string, credentials: Credentials, body: Record<string, unknown>): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (credentials.cookie !== undefined) headers.cookie = credentials.cookie;
    if (credentials.token !== undefined) headers.authorization = `Bearer ${credentials.token}`;
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeout * 1000),
      });
      status = response.status;
      // Read the body within the timeout too: a route that sends headers and then stalls is no answer.
      text = await response.text();
    } catch {
      throw new HeraldError('unavailable', 'the auth proxy did not answer in time; try again');
    }
    const refused = status === 401 || status === 403;
    if (!refused && (status < 200 || status > 299)) {
      throw new HeraldError('unavailable', `the auth proxy answered ${status}; try again`);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { refused, body: parsed };
  }
}

/** What the app's route said: a refusal (401/403) or a 2xx with its JSON body, if any. */
interface Answer {
  refused: boolean;
  body: unknown;
}

function refusal(answer: Answer, code: 'unauthorized' | 'forbidden', fallback: string): HeraldError {
  const message = (answer.body as { error?: { message?: unknown } } | undefined)?.error?.message;
  return new HeraldError(code, typeof message === 'string' ? message.slice(0, 200) : fallback);
}

function identityFrom(body: unknown): Identity {
  const answer = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { user, info, expiresAt } = answer;
  if (user !== null && (typeof user !== 'string' || user === '')) {
    throw new HeraldError('unavailable', 'the auth proxy answered without a "user" (string or null)');
  }
  if (expiresAt !== undefined && typeof expiresAt !== 'number') {
    throw new HeraldError('unavailable', 'the auth proxy answered a non-numeric "expiresAt"');
  }
  const identity: Identity = { user };
  if (expiresAt !== undefined) identity.expiresAt = expiresAt;
  if (info !== undefined) identity.info = info;
  return identity;
}
