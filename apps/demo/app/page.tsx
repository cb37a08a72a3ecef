import Link from 'next/link';

const demos = [
  [
    '/chat',
    'Chat rooms',
    'outbox with sending → sent → failed and retry, history on scroll-back, presence, typing',
  ],
  ['/notifications', 'Notifications', 'a private channel per signed-in user'],
  ['/jobs', 'Background job', 'a Server Action starts it; the progress bar follows it live'],
  ['/dashboard', 'Live dashboard', "the hub's own numbers, charted as they arrive"],
  [
    '/orders',
    'Live Server Component',
    'a server-rendered list that refreshes when a Server Action publishes',
  ],
  ['/answer', 'Streamed answer', 'an answer generated on the server, token by token'],
  ['/eventsource', 'Plain EventSource', "no SDK: the browser's own EventSource, resuming with Last-Event-ID"],
] as const;

export default function Home() {
  return (
    <>
      <h1>Herald demo</h1>
      <p>Every page talks to the hub embedded in this Next.js server, on this same port.</p>
      <ul className="cards">
        {demos.map(([href, title, text]) => (
          <li key={href}>
            <Link href={href}>{title}</Link>
            <span>{text}</span>
          </li>
        ))}
      </ul>
    </>
  );
}
