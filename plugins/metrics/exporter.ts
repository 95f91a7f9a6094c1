// The Prometheus exporter: MetricEvents go into prom-client metrics on a registry of
// its own (never prom-client's global one), so two apps in one process never share
// or clash over series.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { Value } from 'typebox/value'
import { Errors, type MetricsExporter } from '@switchyard/core'
import type { MetricEvent } from '@switchyard/core/plugin'
import { actionOfRpc } from './actions.ts'
import { LabelCap, OTHER_LABEL } from './label-cap.ts'
import {
  DEFAULT_ADMIN_BUCKETS,
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_WAIT_BUCKETS,
  MetricsOptionsSchema,
  type MetricsOptions
} from './options.ts'
import { buildSnapshot, type MetricsSnapshot } from './snapshot.ts'

export const EXPORTER_NAME = 'prometheus'
const OUTCOMES = ['succeeded', 'retrying', 'dead', 'lease_lost'] as const
const QUEUE_STATES = ['ready', 'processing', 'scheduled', 'dead'] as const
const CAPPED_LABELS = ['queue', 'handler', 'rpc', 'code', 'series'] as const

type Outcome = typeof OUTCOMES[number]
type QueueState = typeof QUEUE_STATES[number]
type Labels<K extends string> = Readonly<Record<K, string>>

// Label objects are built once per series and reused, so observe() allocates none.
interface TaskSeries {
  labels: Labels<'queue' | 'handler'>
  byOutcome: Record<Outcome, Labels<'queue' | 'handler' | 'outcome'>>
}

interface AdminSeries {
  labels: Labels<'rpc'>
  byCode: Map<string, Labels<'rpc' | 'code'>>
  action: Labels<'action'> | undefined
}

export interface PrometheusExporter extends MetricsExporter {
  readonly registry: Registry
  snapshot (): Promise<MetricsSnapshot>
  close (): Promise<void>
}

function fieldError (field: string, message: string): Error {
  return Errors.validation(`metrics options.${field}: ${message}`, { details: { field: `options.${field}` } })
}

/** Options with defaults applied; throws VALIDATION_FAILED naming the first bad field. */
export function resolveMetricsOptions (raw: Partial<MetricsOptions> = {}): MetricsOptions {
  const options = Value.Default(MetricsOptionsSchema, structuredClone(raw)) as MetricsOptions
  const first = [...Value.Errors(MetricsOptionsSchema, options)][0]
  if (first !== undefined) {
    const field = first.instancePath.replace(/^\//, '').replace(/\//g, '.')
    // TypeBox reports a key that additionalProperties: false forbids as the boolean schema `false`.
    const unknownKey = first.keyword === 'boolean' && first.schemaPath.endsWith('/additionalProperties')
    throw fieldError(field === '' ? '(root)' : field, unknownKey ? 'unknown option' : first.message)
  }
  for (const field of ['buckets', 'waitBuckets', 'adminBuckets'] as const) {
    const bounds = options[field]
    if (bounds?.some((bound, i) => i > 0 && bound <= (bounds[i - 1] as number)) === true) throw fieldError(field, 'bucket bounds must be strictly increasing')
  }
  return options
}

function seconds (ms: number): number {
  return ms / 1000
}

const PRUNED_STATES: ReadonlySet<string> = new Set(['succeeded', 'canceled', 'dead'])

export function createMetricsExporter (raw: Partial<MetricsOptions> = {}): PrometheusExporter {
  const options = resolveMetricsOptions(raw)
  const { prefix } = options
  const registry = new Registry()
  const registers = [registry]
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix })

  const enqueued = new Counter({ name: `${prefix}tasks_enqueued_total`, help: 'Tasks enqueued', labelNames: ['queue', 'handler'], registers })
  const started = new Counter({ name: `${prefix}tasks_started_total`, help: 'Task attempts started by workers', labelNames: ['queue', 'handler'], registers })
  const finished = new Counter({ name: `${prefix}tasks_finished_total`, help: 'Task attempts finished, by outcome', labelNames: ['queue', 'handler', 'outcome'], registers })
  const failed = new Counter({ name: `${prefix}tasks_failed_total`, help: 'Task attempts that did not succeed (retrying, dead, lease_lost)', labelNames: ['queue', 'handler', 'outcome'], registers })
  const duration = new Histogram({
    name: `${prefix}task_duration_seconds`, help: 'Handler run time of one attempt', labelNames: ['queue', 'handler'],
    buckets: [...(options.buckets ?? DEFAULT_DURATION_BUCKETS)], registers
  })
  const wait = new Histogram({
    name: `${prefix}task_queue_wait_seconds`, help: 'Time from a task\'s runAt to the start of its attempt', labelNames: ['queue', 'handler'],
    buckets: [...(options.waitBuckets ?? DEFAULT_WAIT_BUCKETS)], registers
  })
  const pruned = new Counter({ name: `${prefix}tasks_pruned_total`, help: 'Finished tasks deleted by retention, by final state', labelNames: ['state'], registers })
  const depth = new Gauge({ name: `${prefix}queue_depth`, help: 'Tasks per queue and state, as last reported', labelNames: ['queue', 'state'], registers })
  const adminRequests = new Counter({ name: `${prefix}admin_requests_total`, help: 'Admin RPCs answered, by code (OK or an error code)', labelNames: ['rpc', 'code'], registers })
  const adminDuration = new Histogram({
    name: `${prefix}admin_request_duration_seconds`, help: 'Admin RPC handling time', labelNames: ['rpc'],
    buckets: [...(options.adminBuckets ?? DEFAULT_ADMIN_BUCKETS)], registers
  })
  const adminActions = new Counter({ name: `${prefix}admin_actions_total`, help: 'Admin mutations that succeeded, by audit action', labelNames: ['action'], registers })
  // Destinations are the backend and the configured sinks: a fixed, small set.
  const auditWriteFailures = new Counter({ name: `${prefix}audit_write_failures_total`, help: 'Audit records a destination (backend, or sink:<name>) failed to store', labelNames: ['destination'], registers })

  const caps = {
    queue: new LabelCap(options.maxLabelValues),
    handler: new LabelCap(options.maxLabelValues),
    rpc: new LabelCap(options.maxLabelValues),
    code: new LabelCap(options.maxLabelValues),
    series: new LabelCap(options.maxSeries)
  }
  // Reported at scrape time, so operators can see that values were folded into _other.
  new Counter({
    name: `${prefix}metrics_label_overflow_total`, help: 'Observations whose label value was counted as "_other" because a cardinality cap was reached', labelNames: ['label'], registers,
    collect () {
      this.reset()
      for (const label of CAPPED_LABELS) this.inc({ label }, caps[label].overflowed)
    }
  })
  const observeErrors = new Counter({ name: `${prefix}metrics_observe_errors_total`, help: 'Metric events that could not be recorded', registers })

  const tasks = new Map<string, Map<string, TaskSeries>>()
  const queues = new Map<string, Record<QueueState, Labels<'queue' | 'state'>>>()
  const admin = new Map<string, AdminSeries>()
  let closed = false

  function newTaskSeries (queue: string, handler: string): TaskSeries {
    const byOutcome = {} as Record<Outcome, Labels<'queue' | 'handler' | 'outcome'>>
    for (const outcome of OUTCOMES) byOutcome[outcome] = { queue, handler, outcome }
    return { labels: { queue, handler }, byOutcome }
  }

  function taskSeries (rawQueue: string, rawHandler: string): TaskSeries {
    const known = tasks.get(rawQueue)?.get(rawHandler)
    if (known !== undefined) return known
    const queue = caps.queue.pick(rawQueue)
    let handler = caps.handler.pick(rawHandler)
    let byHandler = tasks.get(queue)
    if (byHandler === undefined) { byHandler = new Map(); tasks.set(queue, byHandler) }
    let series = byHandler.get(handler)
    if (series === undefined) {
      // Pairs beyond the series cap keep their queue: at most one extra pair per queue.
      if (handler !== OTHER_LABEL && caps.series.pick(`${queue}\u0000${handler}`) === OTHER_LABEL) handler = OTHER_LABEL
      series = byHandler.get(handler) ?? newTaskSeries(queue, handler)
      byHandler.set(handler, series)
    }
    return series
  }

  function queueSeries (rawQueue: string): Record<QueueState, Labels<'queue' | 'state'>> {
    const known = queues.get(rawQueue)
    if (known !== undefined) return known
    const queue = caps.queue.pick(rawQueue)
    let series = queues.get(queue)
    if (series === undefined) {
      series = {} as Record<QueueState, Labels<'queue' | 'state'>>
      for (const state of QUEUE_STATES) series[state] = { queue, state }
      queues.set(queue, series)
    }
    return series
  }

  function adminSeries (rawRpc: string): AdminSeries {
    const known = admin.get(rawRpc)
    if (known !== undefined) return known
    const rpc = caps.rpc.pick(rawRpc)
    let series = admin.get(rpc)
    if (series === undefined) {
      const action = rpc === OTHER_LABEL ? undefined : actionOfRpc(rpc)
      series = { labels: { rpc }, byCode: new Map(), action: action === undefined ? undefined : { action } }
      admin.set(rpc, series)
    }
    return series
  }

  function codeLabels (series: AdminSeries, rawCode: string): Labels<'rpc' | 'code'> {
    const known = series.byCode.get(rawCode)
    if (known !== undefined) return known
    const code = caps.code.pick(rawCode)
    const labels = series.byCode.get(code) ?? { rpc: series.labels.rpc, code }
    series.byCode.set(code, labels)
    return labels
  }

  function record (event: MetricEvent): void {
    switch (event.type) {
      case 'task.enqueued':
        enqueued.inc(taskSeries(event.queue, event.handler).labels)
        break
      case 'task.started': {
        const series = taskSeries(event.queue, event.handler)
        started.inc(series.labels)
        // A worker clock slightly behind runAt reports a negative wait: that is no wait.
        if (Number.isFinite(event.waitMs)) wait.observe(series.labels, seconds(Math.max(0, event.waitMs)))
        break
      }
      case 'task.finished': {
        const series = taskSeries(event.queue, event.handler)
        const labels = series.byOutcome[event.outcome]
        if (labels === undefined) { observeErrors.inc(); return }
        finished.inc(labels)
        if (event.outcome !== 'succeeded') failed.inc(labels)
        if (Number.isFinite(event.durationMs) && event.durationMs >= 0) duration.observe(series.labels, seconds(event.durationMs))
        break
      }
      case 'queue.depth': {
        const series = queueSeries(event.queue)
        for (const state of QUEUE_STATES) {
          const count = event[state]
          if (Number.isFinite(count) && count >= 0) depth.set(series[state], count)
        }
        break
      }
      case 'admin.request': {
        const series = adminSeries(event.rpc)
        adminRequests.inc(codeLabels(series, event.code))
        if (Number.isFinite(event.durationMs) && event.durationMs >= 0) adminDuration.observe(series.labels, seconds(event.durationMs))
        if (series.action !== undefined && event.code === 'OK') adminActions.inc(series.action)
        break
      }
      case 'tasks.pruned':
        if (PRUNED_STATES.has(event.state) && Number.isSafeInteger(event.count) && event.count >= 0) pruned.inc({ state: event.state }, event.count)
        else observeErrors.inc()
        break
      case 'audit.write_failed':
        auditWriteFailures.inc({ destination: event.destination })
        break
      default:
        observeErrors.inc()
    }
  }

  return {
    name: EXPORTER_NAME,
    contentType: registry.contentType,
    registry,
    observe (event) {
      if (closed) return
      // observe() runs inside workers and the admin service: a malformed event must never throw there.
      try { record(event) } catch { observeErrors.inc() }
    },
    render: () => registry.metrics(),
    async snapshot () {
      return buildSnapshot(await registry.getMetricsAsJSON(), prefix)
    },
    async close () {
      closed = true
      registry.clear()
    }
  }
}
