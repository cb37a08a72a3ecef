'use client';

import { useEffect, useState } from 'react';

interface LogLine {
  offset: number;
  seq: number;
  at: string;
  level: string;
  message: string;
}

interface Tally {
  received: number;
  gaps: number;
  duplicates: number;
  opens: number;
  firstOffset: number;
  lastOffset: number;
  lastEventId: string;
}

const SHOWN = 100;

/** `hubUrl`: this app's `/realtime` mount, or a standalone hub's URL. */
export function LogTail({ hubUrl }: { hubUrl: string }) {
  const [status, setStatus] = useState('connecting');
  const [lines, setLines] = useState<LogLine[]>([]);
  const [tally, setTally] = useState<Tally>({
    received: 0,
    gaps: 0,
    duplicates: 0,
    opens: 0,
    firstOffset: 0,
    lastOffset: 0,
    lastEventId: '',
  });

  useEffect(() => {
    const source = new EventSource(`${hubUrl}/connection/sse?channel=feed:log`);
    source.addEventListener('open', () => {
      setStatus('open');
      setTally((t) => ({ ...t, opens: t.opens + 1 }));
    });
    source.addEventListener('error', () => {
      setStatus(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    });
    source.addEventListener('log', (event) => {
      const message = JSON.parse(event.data) as { offset: number; data: Omit<LogLine, 'offset'> };
      setTally((t) => {
        const first = t.received === 0;
        return {
          received: t.received + 1,
          gaps: t.gaps + (!first && message.offset > t.lastOffset + 1 ? 1 : 0),
          duplicates: t.duplicates + (!first && message.offset <= t.lastOffset ? 1 : 0),
          opens: t.opens,
          firstOffset: first ? message.offset : t.firstOffset,
          lastOffset: Math.max(t.lastOffset, message.offset),
          lastEventId: event.lastEventId,
        };
      });
      setLines((previous) => [{ offset: message.offset, ...message.data }, ...previous].slice(0, SHOWN));
    });
    return () => source.close();
  }, [hubUrl]);

  return (
    <section>
      <dl className="tally">
        <dt>stream</dt>
        <dd data-testid="es-status">{status}</dd>
        <dt>opened</dt>
        <dd data-testid="es-opens">{tally.opens}</dd>
        <dt>received</dt>
        <dd data-testid="es-received">{tally.received}</dd>
        <dt>gaps</dt>
        <dd data-testid="es-gaps">{tally.gaps}</dd>
        <dt>duplicates</dt>
        <dd data-testid="es-duplicates">{tally.duplicates}</dd>
        <dt>first offset</dt>
        <dd data-testid="es-first-offset">{tally.firstOffset}</dd>
        <dt>last offset</dt>
        <dd data-testid="es-last-offset">{tally.lastOffset}</dd>
        <dt>Last-Event-ID</dt>
        <dd className="cursor">{tally.lastEventId}</dd>
      </dl>
      <ol className="log" data-testid="es-lines">
        {lines.map((line) => (
          <li key={line.offset} className={`level-${line.level}`}>
            <span className="muted">#{line.offset}</span> {line.at.slice(11, 19)} [{line.level}]{' '}
            {line.message}
          </li>
        ))}
      </ol>
    </section>
  );
}
