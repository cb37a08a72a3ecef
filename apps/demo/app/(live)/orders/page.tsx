import { LiveRefresh } from '@herald/next/client';
import { countRender, ORDERS_CHANNEL, ordersPosition, recentOrders } from '../../../lib/orders.ts';
import { placeFifty, placeOrder } from './actions.ts';

// Rendered per request; the list itself comes from the data cache until an order expires its tag.
export const dynamic = 'force-dynamic';

export default async function OrdersPage() {
  const since = await ordersPosition();
  const { total, newest } = await recentOrders();
  const render = countRender();
  return (
    <>
      <h1>Live Server Component</h1>
      <p className="muted">
        This list is a Server Component: no client state, no client fetching. A Server Action adds an order
        with <code>publishAndRevalidate</code> (expire the cache tag, then publish on{' '}
        <code>{ORDERS_CHANNEL}</code>); <code>&lt;LiveRefresh&gt;</code> on every open page calls{' '}
        <code>router.refresh()</code>, one at a time however many arrive.
      </p>
      <LiveRefresh channel={ORDERS_CHANNEL} since={since} />
      <form action={placeOrder} className="row order-form">
        <input name="item" aria-label="item" placeholder="what to order" maxLength={80} required />
        <button type="submit" className="primary">
          Order
        </button>
      </form>
      <form action={placeFifty}>
        <button type="submit">Order 50 at once</button>
      </form>
      <p className="muted" data-testid="orders-render" data-render={render}>
        {total} orders · server render #{render}
      </p>
      <ul className="orders" data-testid="orders" data-total={total}>
        {newest.map((order) => (
          <li key={order.id}>
            <code>#{order.id}</code> {order.item}
          </li>
        ))}
      </ul>
    </>
  );
}
