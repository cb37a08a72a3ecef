import type { Metadata } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { currentUser } from '../lib/session.ts';
import './globals.css';

export const metadata: Metadata = { title: 'Herald demo', description: 'Real-time Next.js with Herald' };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  return (
    <html lang="en">
      <body>
        <nav className="nav">
          <Link href="/">Herald demo</Link>
          <Link href="/chat">Chat</Link>
          <Link href="/notifications">Notifications</Link>
          <Link href="/jobs">Jobs</Link>
          <Link href="/dashboard">Dashboard</Link>
          <Link href="/answer">Streamed answer</Link>
          <Link href="/orders">Live list</Link>
          <Link href="/eventsource">Plain EventSource</Link>
          <span className="spacer" />
          <Link href="/signin" data-testid="nav-user">
            {user ?? 'Sign in'}
          </Link>
        </nav>
        <main className="main">{children}</main>
      </body>
    </html>
  );
}
