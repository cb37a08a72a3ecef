'use client';

import { useChannel, useStream } from '@herald/react';
import { LOBBY, ROSTER, type Roster } from '../../../lib/online.ts';

export function OnlineNow() {
  // Being here is being online: this subscription is a member of the lobby's presence.
  useChannel(LOBBY);
  // What the app's store says, as it publishes it after each webhook (the last one from history first).
  const { value } = useStream<Roster[]>(ROSTER, { reduce: (_, pub) => [pub.data as Roster] });
  const roster = value.at(-1) ?? null;
  return (
    <section data-testid="online-now" data-users={roster?.users.join(',') ?? ''}>
      {roster === null ? (
        <p className="muted">Waiting for the first webhook…</p>
      ) : (
        <>
          <ul>
            {roster.users.map((user) => (
              <li key={user}>{user}</li>
            ))}
          </ul>
          <p className="muted">
            {roster.users.length} signed in, {roster.guests} guest{roster.guests === 1 ? '' : 's'}
          </p>
        </>
      )}
    </section>
  );
}
