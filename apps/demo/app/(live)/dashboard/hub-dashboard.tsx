'use client';

import { useStream } from '@herald/react';
import { LineChart } from '../../../components/line-chart.tsx';

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
  // The last SPAN samples: the channel's history (two minutes) first, then live ones as they come.
  const { value: points } = useStream<Sample[]>(CHANNEL, {
    initial: [],
    reduce: (samples, pub) => [...samples, pub.data as Sample].slice(-SPAN),
  });

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
