'use client';

import type { Publication } from '@herald/protocol';
import { useState } from 'react';
import { LineChart } from '../../components/line-chart.tsx';
import { useChannel, useHeraldClient } from '../../components/realtime.tsx';

interface Sample {
  at: number;
  sessions: number;
  publishedPerSecond: number;
  deliveredPerSecond: number;
  heapMb: number;
}

const SPAN = 120;
const CHANNEL = 'dashboard:hub';

export function HubDashboard() {
  const client = useHeraldClient();
  const [samples, setSamples] = useState<Map<number, Sample>>(() => new Map());
  const add = (pubs: Publication[]) =>
    setSamples((previous) => {
      const next = new Map(previous);
      for (const pub of pubs) next.set(pub.offset, pub.data as Sample);
      return new Map([...next].sort(([a], [b]) => a - b).slice(-SPAN));
    });

  useChannel(CHANNEL, {
    // Backfill from history once live; offsets make the two sources merge without doubles.
    onSubscribed: () => {
      client?.history(CHANNEL, { limit: SPAN, reverse: true }).then(
        (page) => add(page.publications),
        () => undefined,
      );
    },
    onPublication: (pub) => add([pub]),
    onReset: () => setSamples(new Map()),
  });

  const points = [...samples.values()];
  const latest = points[points.length - 1];
  const series = [
    { name: 'deliveries/s', color: '#3b5bdb', values: points.map((p) => p.deliveredPerSecond) },
    { name: 'publications/s', color: '#2b8a3e', values: points.map((p) => p.publishedPerSecond) },
    { name: 'sessions', color: '#e8590c', values: points.map((p) => p.sessions) },
  ];
  return (
    <section data-testid="dashboard" data-samples={points.length}>
      <LineChart series={series} span={SPAN} />
      <dl className="legend">
        {series.map((s) => (
          <div key={s.name}>
            <dt style={{ color: s.color }}>{s.name}</dt>
            <dd>{s.values[s.values.length - 1] ?? '–'}</dd>
          </div>
        ))}
        <div>
          <dt>heap MB</dt>
          <dd>{latest?.heapMb ?? '–'}</dd>
        </div>
        <div>
          <dt>samples</dt>
          <dd data-testid="dashboard-samples">{points.length}</dd>
        </div>
      </dl>
    </section>
  );
}
