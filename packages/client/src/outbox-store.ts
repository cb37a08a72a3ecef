import type { OutboxMessage } from './outbox.ts';

/** Where unfinished outbox messages are kept, so that a page reload does not lose them. */
export interface OutboxStore {
  load(): Promise<OutboxMessage[]>;
  put(message: OutboxMessage): Promise<void>;
  delete(id: string): Promise<void>;
}

/** Keeps nothing beyond the client's life: Node processes, or when IndexedDB is missing. */
export function memoryOutboxStore(): OutboxStore {
  return {
    load: async () => [],
    put: async () => undefined,
    delete: async () => undefined,
  };
}

const STORE = 'outbox';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

interface StoredMessage extends OutboxMessage {
  /** Which hub the message is for: one database serves every client of the origin. */
  scope: string;
}

/**
 * Unfinished messages in IndexedDB (database `name`, default `herald`), one record per message, keyed by
 * its id. Messages of another `scope` (another hub, another user) in the same database are left alone.
 */
export function indexedDbOutboxStore(
  scope: string | Promise<string>,
  options: { name?: string; indexedDB?: IDBFactory } = {},
): OutboxStore {
  const factory = options.indexedDB ?? globalThis.indexedDB;
  let opened: Promise<IDBDatabase> | undefined;
  const db = () => {
    opened ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(options.name ?? 'herald', 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
      req.onsuccess = () => {
        const database = req.result;
        // Another tab upgrading the schema must not be blocked by this one.
        database.onversionchange = () => database.close();
        resolve(database);
      };
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('the outbox database is blocked by another tab'));
    });
    return opened;
  };
  const store = async (mode: IDBTransactionMode) => (await db()).transaction(STORE, mode).objectStore(STORE);
  return {
    async load() {
      const all = (await request((await store('readonly')).getAll())) as StoredMessage[];
      const mine = await scope;
      return all
        .filter((m) => m.scope === mine)
        .map(({ scope: _scope, ...message }) => message)
        .sort((a, b) => a.createdAt - b.createdAt);
    },
    async put(message) {
      const record: StoredMessage = { ...message, scope: await scope };
      await request((await store('readwrite')).put(record));
    },
    async delete(id) {
      await request((await store('readwrite')).delete(id));
    },
  };
}

/** IndexedDB where the platform has it (browsers, or Node with fake-indexeddb), memory otherwise. */
export function defaultOutboxStore(scope: string | Promise<string>): OutboxStore {
  return typeof globalThis.indexedDB === 'undefined' ? memoryOutboxStore() : indexedDbOutboxStore(scope);
}
