import { OnlineNow } from './online-now.tsx';

export default function OnlinePage() {
  return (
    <>
      <h1>Online now</h1>
      <p className="muted">
        Driven by webhooks: the hub POSTs <code>presence.joined</code> and <code>presence.left</code> for{' '}
        <code>online:lobby</code> to this app’s <code>/api/herald-events</code>, signed; the route checks them
        with <code>verifyWebhook</code>, updates the app’s own store and publishes it on{' '}
        <code>online:roster</code>. A reload or a network blip within the grace (5 s) changes nothing.
      </p>
      <OnlineNow />
    </>
  );
}
