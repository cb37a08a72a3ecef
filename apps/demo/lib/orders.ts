import { unstable_cache } from 'next/cache';
import { herald } from './herald.ts';

/** The channel every order page follows (`<LiveRefresh>`) and every new order is published on. */
export const ORDERS_CHANNEL = 'orders:all';
/** The cache tag of the order list: the Server Actions expire it before they publish. */
export const ORDERS_TAG = 'orders';

export interface Order {
  id: string;
  item: string;
  at: number;
}

// One list per server process, on globalThis: Next.js may evaluate this module once per bundle.
const SLOT = Symbol.for('herald.demo.orders');
const shared = globalThis as { [SLOT]?: Order[] };
shared[SLOT] ??= [];
const orders = shared[SLOT];

export function addOrder(item: string): Order {
  const order = { id: `${orders.length + 1}`, item, at: Date.now() };
  orders.push(order);
  return order;
}

/** The newest 20 orders and the count, cached until the tag is expired (so a stale read would show). */
export const recentOrders = unstable_cache(
  async () => ({ total: orders.length, newest: orders.slice(-20).reverse() }),
  ['recent-orders'],
  { tags: [ORDERS_TAG] },
);

/** Where the channel stands: read before the list, so anything published after it refreshes the page. */
export async function ordersPosition() {
  const { epoch, offset } = await herald.history(ORDERS_CHANNEL, { limit: 0 });
  return { epoch, offset };
}

// How many times this process rendered the page: shown, so a refresh can be seen.
const RENDERS = Symbol.for('herald.demo.orders.renders');
export function countRender(): number {
  const slot = globalThis as { [RENDERS]?: number };
  slot[RENDERS] = (slot[RENDERS] ?? 0) + 1;
  return slot[RENDERS];
}
