import { offeredTransports } from '@herald/next';
import type { ReactNode } from 'react';
import { ConnectionBadge, Realtime } from '../../components/realtime.tsx';
import { demoHub, publicHubUrl, standaloneHub } from '../../lib/herald.ts';
import { currentUser } from '../../lib/session.ts';

/**
 * The pages that use the SDK share one connection, opened here and kept while moving between them. The
 * other pages (home, sign-in, the plain-EventSource page) open none.
 */
export default async function LiveLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  // The embedded hub's transports: no WebSocket attempt under plain `next start`, where none can work.
  // A standalone hub serves all three.
  const transports = standaloneHub ? undefined : await offeredTransports(demoHub);
  return (
    <Realtime url={publicHubUrl} user={user} transports={transports}>
      <div className="status">
        <ConnectionBadge />
      </div>
      {children}
    </Realtime>
  );
}
