import type { LockManagerLike } from '../../src/shared-link.ts';

/**
 * The Web Locks API's exclusive mode for Node tests, where "tabs" are clients in one process: a request
 * waits its turn per name (first come, first served), holds the lock while its callback's promise is
 * pending, and leaves the queue when its signal aborts. Browsers run the real `navigator.locks`.
 */
export class TestLockManager implements LockManagerLike {
  private readonly held = new Set<string>();
  private readonly queues = new Map<string, Array<() => void>>();

  async request<T>(
    name: string,
    options: { signal?: AbortSignal },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T> {
    await this.acquire(name, options.signal);
    try {
      return await callback({ name, mode: 'exclusive' });
    } finally {
      this.held.delete(name);
      this.queues.get(name)?.shift()?.();
    }
  }

  async query(): Promise<{ held: Array<{ name: string }> }> {
    return { held: [...this.held].map((name) => ({ name })) };
  }

  private acquire(name: string, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(new DOMException('aborted', 'AbortError'));
    if (!this.held.has(name)) {
      this.held.add(name);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      const grant = () => {
        signal?.removeEventListener('abort', abort);
        this.held.add(name);
        resolve();
      };
      const abort = () => {
        const at = queue.indexOf(grant);
        if (at !== -1) queue.splice(at, 1);
        reject(new DOMException('aborted', 'AbortError'));
      };
      signal?.addEventListener('abort', abort, { once: true });
      queue.push(grant);
    });
  }
}
