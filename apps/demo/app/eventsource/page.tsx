import { publicHubUrl } from '../../lib/herald.ts';
import { LogTail } from './log-tail.tsx';

export default function EventSourcePage() {
  return (
    <>
      <h1>Plain EventSource</h1>
      <p className="muted">
        No Herald code in this page: <code>new EventSource('/realtime/connection/sse?channel=feed:log')</code>
        . Every message's <code>id:</code> is a cursor, so when the stream drops the browser reconnects with{' '}
        <code>Last-Event-ID</code> and the hub sends exactly what was missed.
      </p>
      <LogTail hubUrl={publicHubUrl} />
    </>
  );
}
