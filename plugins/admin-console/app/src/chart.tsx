// A hand-drawn SVG line chart: a few series over time buckets, an axis and a legend.
import type { ReactNode } from 'react'

export interface Series { name: string, points: number[] }

const W = 640
const H = 160
const PAD = 28

export function LineChart ({ series, labels, title }: { series: Series[], labels: [string, string], title: string }): ReactNode {
  const n = Math.max(1, ...series.map(s => s.points.length))
  const max = Math.max(1, ...series.flatMap(s => s.points))
  const x = (i: number): number => PAD + (n === 1 ? 0 : (i * (W - 2 * PAD)) / (n - 1))
  const y = (v: number): number => H - PAD - (v * (H - 2 * PAD)) / max
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: ${series.map(s => `${s.name} ${s.points.reduce((a, b) => a + b, 0)}`).join(', ')}`}>
        <line x1={PAD} y1={H - PAD} x2={W - PAD} y2={H - PAD} className="axis" />
        <line x1={PAD} y1={PAD} x2={PAD} y2={H - PAD} className="axis" />
        <text x={PAD - 4} y={PAD + 4} textAnchor="end" className="tick">{max}</text>
        <text x={PAD - 4} y={H - PAD} textAnchor="end" className="tick">0</text>
        <text x={PAD} y={H - 8} className="tick">{labels[0]}</text>
        <text x={W - PAD} y={H - 8} textAnchor="end" className="tick">{labels[1]}</text>
        {series.map((s, si) => (
          <polyline key={s.name} className={`series series-${si}`} fill="none" points={s.points.map((v, i) => `${x(i)},${y(v)}`).join(' ')} />
        ))}
      </svg>
      <figcaption className="legend">
        {series.map((s, si) => <span key={s.name} className={`legend-item series-${si}`}>{s.name} {s.points.reduce((a, b) => a + b, 0)}</span>)}
      </figcaption>
    </figure>
  )
}
