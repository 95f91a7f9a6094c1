// The JSON view of the registry (GET /admin/v1/metrics): the same numbers as the
// Prometheus text, reshaped for people and the console: totals, one row per
// queue/handler pair, and histogram percentiles estimated from the buckets.
import type { MetricObjectWithValues, MetricValue } from 'prom-client'

type MetricJson = MetricObjectWithValues<MetricValue<string>>
type LabelSet = Partial<Record<string, string | number>>

const OUTCOMES = ['succeeded', 'retrying', 'dead', 'lease_lost'] as const
type OutcomeCounts = Record<typeof OUTCOMES[number], number>

export interface DurationSummary {
  count: number
  sumMs: number
  /** null while count is 0 */
  avgMs: number | null
  /** estimated from the histogram buckets, like Prometheus' histogram_quantile() */
  p50Ms: number | null
  p95Ms: number | null
}

export interface TaskSeriesSnapshot {
  queue: string
  handler: string
  enqueued: number
  started: number
  finished: OutcomeCounts
  failed: number
  durationMs: DurationSummary
  waitMs: DurationSummary
}

export interface QueueDepthSnapshot {
  queue: string
  ready: number
  processing: number
  scheduled: number
  dead: number
}

export interface AdminRpcSnapshot {
  rpc: string
  total: number
  errors: number
  byCode: Record<string, number>
  durationMs: DurationSummary
}

export interface MetricsSnapshot {
  generatedAt: string
  tasks: {
    totals: { enqueued: number, started: number, finished: OutcomeCounts, failed: number }
    series: TaskSeriesSnapshot[]
  }
  queues: QueueDepthSnapshot[]
  admin: { requests: AdminRpcSnapshot[], actions: Record<string, number>, /** by destination: backend, sink:<name> */ auditWriteFailures: Record<string, number> }
  /** observations counted under "_other", per capped label */
  labelOverflow: Record<string, number>
  /** unlabelled process metrics, present when defaultMetrics is on */
  process: Record<string, number>
}

interface HistogramSeries {
  labels: LabelSet
  /** [upper bound, cumulative count], increasing; the last bound is Infinity */
  buckets: Array<[number, number]>
  sum: number
  count: number
}

function round (value: number): number {
  return Math.round(value * 1000) / 1000
}

function keyOf (labels: LabelSet, names: readonly string[]): string {
  return names.map(name => String(labels[name] ?? '')).join('\u0000')
}

function zeroOutcomes (): OutcomeCounts {
  return { succeeded: 0, retrying: 0, dead: 0, lease_lost: 0 }
}

/** The q-quantile by linear interpolation inside the bucket the rank falls in. */
export function estimateQuantile (buckets: ReadonlyArray<readonly [number, number]>, q: number): number | null {
  const total = buckets.at(-1)?.[1] ?? 0
  if (total === 0) return null
  const rank = q * total
  let lowerBound = 0
  let lowerCount = 0
  for (const [bound, cumulative] of buckets) {
    if (cumulative >= rank && cumulative > lowerCount) {
      // Beyond the highest finite bound the histogram knows nothing more precise.
      if (bound === Infinity) return lowerBound
      return lowerBound + (bound - lowerBound) * (rank - lowerCount) / (cumulative - lowerCount)
    }
    lowerBound = bound
    lowerCount = cumulative
  }
  return lowerBound
}

function summarize (series: HistogramSeries | undefined): DurationSummary {
  if (series === undefined || series.count === 0) return { count: 0, sumMs: 0, avgMs: null, p50Ms: null, p95Ms: null }
  const p50 = estimateQuantile(series.buckets, 0.5)
  const p95 = estimateQuantile(series.buckets, 0.95)
  return {
    count: series.count,
    sumMs: round(series.sum * 1000),
    avgMs: round(series.sum * 1000 / series.count),
    p50Ms: p50 === null ? null : round(p50 * 1000),
    p95Ms: p95 === null ? null : round(p95 * 1000)
  }
}

class MetricIndex {
  readonly #byName = new Map<string, MetricJson>()

  constructor (metrics: readonly MetricJson[], prefix: string) {
    for (const metric of metrics) {
      this.#byName.set(metric.name.startsWith(prefix) ? metric.name.slice(prefix.length) : metric.name, metric)
    }
  }

  values (name: string): Array<MetricValue<string>> {
    return this.#byName.get(name)?.values ?? []
  }

  /** Counter or gauge values summed per key of `names`. */
  sums (name: string, names: readonly string[]): Map<string, { labels: LabelSet, value: number }> {
    const out = new Map<string, { labels: LabelSet, value: number }>()
    for (const { labels, value } of this.values(name)) {
      const key = keyOf(labels, names)
      const entry = out.get(key)
      if (entry === undefined) out.set(key, { labels, value })
      else entry.value += value
    }
    return out
  }

  histograms (name: string, names: readonly string[]): Map<string, HistogramSeries> {
    const out = new Map<string, HistogramSeries>()
    for (const sample of this.values(name)) {
      const { labels, value } = sample
      const metricName = (sample as { metricName?: string }).metricName ?? ''
      const key = keyOf(labels, names)
      let series = out.get(key)
      if (series === undefined) { series = { labels, buckets: [], sum: 0, count: 0 }; out.set(key, series) }
      if (metricName.endsWith('_bucket')) {
        const le = labels.le
        series.buckets.push([le === '+Inf' ? Infinity : Number(le), value])
      } else if (metricName.endsWith('_sum')) {
        series.sum = value
      } else if (metricName.endsWith('_count')) {
        series.count = value
      }
    }
    for (const series of out.values()) series.buckets.sort((a, b) => a[0] - b[0])
    return out
  }

  processValues (known: ReadonlySet<string>): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [name, metric] of this.#byName) {
      if (known.has(name) || metric.values.length !== 1) continue
      const [only] = metric.values
      if (only !== undefined && Object.keys(only.labels).length === 0 && Number.isFinite(only.value)) out[name] = only.value
    }
    return out
  }
}

const TASK_LABELS = ['queue', 'handler'] as const
const OWN_METRICS = new Set([
  'tasks_enqueued_total', 'tasks_started_total', 'tasks_finished_total', 'tasks_failed_total', 'task_duration_seconds',
  'task_queue_wait_seconds', 'queue_depth', 'admin_requests_total', 'admin_request_duration_seconds', 'admin_actions_total', 'audit_write_failures_total',
  'metrics_label_overflow_total', 'metrics_observe_errors_total'
])

function taskSection (index: MetricIndex): MetricsSnapshot['tasks'] {
  const rows = new Map<string, TaskSeriesSnapshot>()
  const row = (labels: LabelSet): TaskSeriesSnapshot => {
    const key = keyOf(labels, TASK_LABELS)
    let found = rows.get(key)
    if (found === undefined) {
      found = {
        queue: String(labels.queue), handler: String(labels.handler), enqueued: 0, started: 0, finished: zeroOutcomes(), failed: 0,
        durationMs: summarize(undefined), waitMs: summarize(undefined)
      }
      rows.set(key, found)
    }
    return found
  }
  for (const { labels, value } of index.sums('tasks_enqueued_total', TASK_LABELS).values()) row(labels).enqueued = value
  for (const { labels, value } of index.sums('tasks_started_total', TASK_LABELS).values()) row(labels).started = value
  for (const { labels, value } of index.values('tasks_finished_total')) {
    const outcome = String(labels.outcome)
    if ((OUTCOMES as readonly string[]).includes(outcome)) row(labels).finished[outcome as keyof OutcomeCounts] += value
  }
  for (const { labels, value } of index.sums('tasks_failed_total', TASK_LABELS).values()) row(labels).failed = value
  for (const series of index.histograms('task_duration_seconds', TASK_LABELS).values()) row(series.labels).durationMs = summarize(series)
  for (const series of index.histograms('task_queue_wait_seconds', TASK_LABELS).values()) row(series.labels).waitMs = summarize(series)

  const series = [...rows.values()].sort((a, b) => a.queue.localeCompare(b.queue) || a.handler.localeCompare(b.handler))
  const totals = { enqueued: 0, started: 0, finished: zeroOutcomes(), failed: 0 }
  for (const entry of series) {
    totals.enqueued += entry.enqueued
    totals.started += entry.started
    totals.failed += entry.failed
    for (const outcome of OUTCOMES) totals.finished[outcome] += entry.finished[outcome]
  }
  return { totals, series }
}

function queueSection (index: MetricIndex): QueueDepthSnapshot[] {
  const rows = new Map<string, QueueDepthSnapshot>()
  for (const { labels, value } of index.values('queue_depth')) {
    const queue = String(labels.queue)
    let found = rows.get(queue)
    if (found === undefined) { found = { queue, ready: 0, processing: 0, scheduled: 0, dead: 0 }; rows.set(queue, found) }
    const state = String(labels.state)
    if (state === 'ready' || state === 'processing' || state === 'scheduled' || state === 'dead') found[state] = value
  }
  return [...rows.values()].sort((a, b) => a.queue.localeCompare(b.queue))
}

function adminSection (index: MetricIndex): MetricsSnapshot['admin'] {
  const rows = new Map<string, AdminRpcSnapshot>()
  const row = (rpc: string): AdminRpcSnapshot => {
    let found = rows.get(rpc)
    if (found === undefined) { found = { rpc, total: 0, errors: 0, byCode: {}, durationMs: summarize(undefined) }; rows.set(rpc, found) }
    return found
  }
  for (const { labels, value } of index.values('admin_requests_total')) {
    const entry = row(String(labels.rpc))
    const code = String(labels.code)
    entry.byCode[code] = (entry.byCode[code] ?? 0) + value
    entry.total += value
    if (code !== 'OK') entry.errors += value
  }
  for (const series of index.histograms('admin_request_duration_seconds', ['rpc']).values()) row(String(series.labels.rpc)).durationMs = summarize(series)
  const actions: Record<string, number> = {}
  for (const { labels, value } of index.values('admin_actions_total')) actions[String(labels.action)] = value
  const auditWriteFailures: Record<string, number> = {}
  for (const { labels, value } of index.values('audit_write_failures_total')) auditWriteFailures[String(labels.destination)] = value
  return { requests: [...rows.values()].sort((a, b) => a.rpc.localeCompare(b.rpc)), actions, auditWriteFailures }
}

export function buildSnapshot (metrics: readonly MetricJson[], prefix: string, now = Date.now()): MetricsSnapshot {
  const index = new MetricIndex(metrics, prefix)
  const labelOverflow: Record<string, number> = {}
  for (const { labels, value } of index.values('metrics_label_overflow_total')) labelOverflow[String(labels.label)] = value
  return {
    generatedAt: new Date(now).toISOString(),
    tasks: taskSection(index),
    queues: queueSection(index),
    admin: adminSection(index),
    labelOverflow,
    process: index.processValues(OWN_METRICS)
  }
}
