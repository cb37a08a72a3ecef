'use client';

import { useStream } from '@herald/react';
import { type Panel, TimeChart } from '../../../components/time-chart.tsx';

interface Sample {
  at: number;
  sessions: number;
  publishedPerSecond: number;
  deliveredPerSecond: number;
  heapMb: number;
}

/** Samples kept: one a second, two minutes (the channel's history). */
const SPAN = 120;
const CHANNEL = 'dashboard:hub';
const COLORS = { delivered: '#3b5bdb', published: '#2b8a3e', sessions: '#e8590c' };

export function HubDashboard() {
  // The last SPAN samples: the channel's history (two minutes) first, then live ones as they come.
  const { value: samples } = useStream<Sample[]>(CHANNEL, {
    initial: [],
    reduce: (list, pub) => [...list, pub.data as Sample].slice(-SPAN),
  });

  const latest = samples.at(-1);
  const to = latest?.at ?? 0;
  const series = (name: string, color: string, value: (s: Sample) => number) => ({
    name,
    color,
    points: samples.map((s) => [s.at, value(s)] as const),
  });
  // Rates share one scale; the session count, another unit, gets a panel of its own.
  const panels: Panel[] = [
    {
      title: 'messages per second',
      series: [
        series('deliveries', COLORS.delivered, (s) => s.deliveredPerSecond),
        series('publications', COLORS.published, (s) => s.publishedPerSecond),
      ],
    },
    { title: 'open sessions', series: [series('sessions', COLORS.sessions, (s) => s.sessions)] },
  ];
  const legend = [
    ['deliveries', COLORS.delivered, latest?.deliveredPerSecond, '/s'],
    ['publications', COLORS.published, latest?.publishedPerSecond, '/s'],
    ['sessions', COLORS.sessions, latest?.sessions, ''],
    ['heap', undefined, latest?.heapMb, ' MB'],
  ] as const;

  return (
    <section data-testid="dashboard" data-samples={samples.length} data-latest={latest?.at}>
      <dl className="legend">
        {legend.map(([name, color, value, unit]) => (
          <div key={name}>
            <dt>
              {color && <span className="swatch" style={{ background: color }} />}
              {name}
            </dt>
            <dd>{value === undefined ? '–' : `${value}${unit}`}</dd>
          </div>
        ))}
        <div>
          <dt>samples</dt>
          <dd data-testid="dashboard-samples">{samples.length}</dd>
        </div>
      </dl>
      <TimeChart
        panels={panels}
        from={to - SPAN * 1000}
        to={to}
        tickEvery={30_000}
        label="Deliveries and publications per second, and open sessions, over the last two minutes"
      />
    </section>
  );
}
