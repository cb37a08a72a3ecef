export interface Series {
  name: string;
  color: string;
  values: number[];
}

interface LineChartProps {
  series: Series[];
  /** How many samples the x axis spans (newest on the right). */
  span: number;
  width?: number;
  height?: number;
}

/** A small SVG line chart; each series is scaled to its own maximum so all fit one box. */
export function LineChart({ series, span, width = 640, height = 220 }: LineChartProps) {
  const pad = 8;
  const x = (i: number, n: number) => pad + ((width - 2 * pad) * (span - n + i)) / Math.max(1, span - 1);
  return (
    <svg viewBox={`0 0 ${width} ${height}`} className="chart" role="img" aria-label="live chart">
      <rect x="0" y="0" width={width} height={height} fill="#fafbfc" stroke="#dde1e6" />
      {series.map(({ name, color, values }) => {
        const max = Math.max(1, ...values);
        const points = values
          .map(
            (v, i) =>
              `${x(i, values.length).toFixed(1)},${(height - pad - ((height - 2 * pad) * v) / max).toFixed(1)}`,
          )
          .join(' ');
        return <polyline key={name} points={points} fill="none" stroke={color} strokeWidth="2" />;
      })}
    </svg>
  );
}
