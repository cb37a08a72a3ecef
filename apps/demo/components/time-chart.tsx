'use client';

import { useLayoutEffect, useRef, useState } from 'react';

export interface Series {
  name: string;
  color: string;
  /** `[time in ms, value]`, oldest first. */
  points: ReadonlyArray<readonly [number, number]>;
}

/** One plot: series that share a unit, drawn on one y scale from zero. */
export interface Panel {
  /** What the y axis measures, with its unit ("messages per second"). */
  title: string;
  series: Series[];
}

interface TimeChartProps {
  panels: Panel[];
  /** The time span every panel shows, in ms since the epoch: one time axis for all. */
  from: number;
  to: number;
  /** Milliseconds between time ticks. */
  tickEvery: number;
  label: string;
}

const LEFT = 44;
const RIGHT = 14;
const TITLE = 22;
const PLOT = 120;
const GAP = 12;
const AXIS = 22;
/** Half the width of a clock label (`12:34:56` at the tick size): one closer to the edge would be cut. */
const CLOCK_HALF_WIDTH = 26;

/** A round step (1, 2 or 5 times a power of ten, at least 1) giving about `count` ticks up to `max`. */
function niceStep(max: number, count = 4): number {
  const raw = Math.max(max, 1) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / magnitude;
  const step = (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * magnitude;
  return Math.max(1, step);
}

const clock = (at: number) => new Date(at).toLocaleTimeString('en-GB', { hour12: false });

/** The width the chart gets from the page, so its text is drawn at its own size at any width. */
function useWidth() {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    setWidth(el.clientWidth);
    return () => observer.disconnect();
  }, []);
  return { ref, width };
}

/**
 * Time series in stacked panels sharing one time axis (ticks at round times, clock labels at the bottom).
 * Each panel has its own labelled y scale from zero, so a count and a rate are never drawn as one.
 */
export function TimeChart({ panels, from, to, tickEvery, label }: TimeChartProps) {
  const { ref, width } = useWidth();
  const height = panels.length * (TITLE + PLOT + GAP) - GAP + AXIS;
  const plotWidth = Math.max(1, width - LEFT - RIGHT);
  const x = (at: number) => LEFT + (plotWidth * (at - from)) / Math.max(1, to - from);
  const empty = panels.every((panel) => panel.series.every((series) => series.points.length === 0));
  const times: number[] = [];
  if (!empty) for (let t = Math.ceil(from / tickEvery) * tickEvery; t <= to; t += tickEvery) times.push(t);
  const axisTop = panels.length * (TITLE + PLOT + GAP) - GAP;

  return (
    <div ref={ref} className="chart-box" style={{ height }}>
      {width > 0 && (
        <svg
          width={width}
          height={height}
          className="chart"
          role="img"
          aria-label={label}
          data-testid="chart"
        >
          {panels.map((panel, i) => {
            const top = i * (TITLE + PLOT + GAP) + TITLE;
            const max = Math.max(0, ...panel.series.flatMap((s) => s.points.map(([, v]) => v)));
            const step = niceStep(max);
            const yMax = Math.max(step, Math.ceil(max / step) * step);
            const y = (v: number) => top + PLOT - (PLOT * v) / yMax;
            const levels: number[] = [];
            for (let v = 0; v <= yMax; v += step) levels.push(v);
            return (
              <g key={panel.title} data-testid="chart-panel" data-title={panel.title} data-ymax={yMax}>
                <text x={LEFT} y={top - 8} className="chart-title">
                  {panel.title}
                </text>
                {times.map((t) => (
                  <line key={t} x1={x(t)} x2={x(t)} y1={top} y2={top + PLOT} className="grid" />
                ))}
                {levels.map((v) => (
                  <g key={v}>
                    <line x1={LEFT} x2={LEFT + plotWidth} y1={y(v)} y2={y(v)} className="grid" />
                    <text
                      x={LEFT - 6}
                      y={y(v)}
                      className="tick tick-y"
                      textAnchor="end"
                      dominantBaseline="middle"
                    >
                      {v}
                    </text>
                  </g>
                ))}
                <line x1={LEFT} x2={LEFT} y1={top} y2={top + PLOT} className="axis" />
                <line x1={LEFT} x2={LEFT + plotWidth} y1={top + PLOT} y2={top + PLOT} className="axis" />
                {panel.series.map((series) => (
                  <polyline
                    key={series.name}
                    data-series={series.name}
                    points={series.points
                      .filter(([at]) => at >= from)
                      .map(([at, v]) => `${x(at).toFixed(1)},${y(v).toFixed(1)}`)
                      .join(' ')}
                    fill="none"
                    stroke={series.color}
                    strokeWidth="2"
                    strokeLinejoin="round"
                  />
                ))}
              </g>
            );
          })}
          {empty && (
            <text x={LEFT + plotWidth / 2} y={TITLE + PLOT / 2} className="chart-title" textAnchor="middle">
              waiting for the first sample…
            </text>
          )}
          {times
            .filter((t) => x(t) + CLOCK_HALF_WIDTH <= width)
            .map((t) => (
              <text key={t} x={x(t)} y={axisTop + 16} className="tick tick-x" textAnchor="middle">
                {clock(t)}
              </text>
            ))}
        </svg>
      )}
    </div>
  );
}
