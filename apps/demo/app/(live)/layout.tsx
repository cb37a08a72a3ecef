import type { ReactNode } from 'react';
import { ConnectionBadge, Realtime } from '../../components/realtime.tsx';
import { publicHubUrl } from '../../lib/herald.ts';
import { currentUser } from '../../lib/session.ts';

/**
 * The pages that use the SDK share one connection, opened here and kept while moving between them. The
 * other pages (home, sign-in, the plain-EventSource page) open none.
 */
export default async function LiveLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  return (
    <Realtime url={publicHubUrl} user={user}>
      <div className="status">
        <ConnectionBadge />
      </div>
      {children}
    </Realtime>
  );
}
