'use server';

import { publishAndRevalidate } from '@herald/next';
import { herald } from '../../../lib/herald.ts';
import { addOrder, ORDERS_CHANNEL, ORDERS_TAG } from '../../../lib/orders.ts';

/** Adds an order, expires the cached list, then tells every open order page to refresh. */
async function place(item: string): Promise<void> {
  const { id } = addOrder(item);
  await publishAndRevalidate(
    ORDERS_CHANNEL,
    { id, item },
    { tags: [ORDERS_TAG], event: 'placed', publisher: herald },
  );
}

export async function placeOrder(form: FormData): Promise<void> {
  const item = String(form.get('item') ?? '')
    .trim()
    .slice(0, 80);
  if (item) await place(item);
}

/** Fifty orders at once: fifty publications, which the pages coalesce into a few refreshes. */
export async function placeFifty(): Promise<void> {
  for (let i = 1; i <= 50; i++) await place(`bulk order ${i} of 50`);
}
