import { Errors } from '../errors.ts'
import type { Backend } from '../backend/types.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { readSteps } from './store.ts'
import {
  asStep, COUNT_FIELDS, HOUR_MS, HOURS_COLLECTION, hourKey, MAX_QUEUES_PER_STEP, MINUTE_MS, MINUTES_COLLECTION, minuteKey,
  pointOf, type StepValue
} from './steps.ts'

// GetMetricsHistory: a dense series (every step present) ending with the current,
// unfinished step, from the shared records the recorders and the leader write.

type Window = NonNullable<RequestOf<'GetMetricsHistory'>['window']>

const WINDOWS: Readonly<Record<Window, { stepMs: number, points: number, collection: string, key: (ms: number) => string }>> = {
  '1h': { stepMs: MINUTE_MS, points: 60, collection: MINUTES_COLLECTION, key: minuteKey },
  '24h': { stepMs: MINUTE_MS, points: 1440, collection: MINUTES_COLLECTION, key: minuteKey },
  '7d': { stepMs: HOUR_MS, points: 168, collection: HOURS_COLLECTION, key: hourKey },
  '30d': { stepMs: HOUR_MS, points: 720, collection: HOURS_COLLECTION, key: hourKey }
}

const iso = (ms: number): string => new Date(ms).toISOString()

export async function getMetricsHistory (backend: Backend, request: RequestOf<'GetMetricsHistory'>): Promise<ResponseOf<'GetMetricsHistory'>> {
  if (!backend.capabilities.records) {
    throw Errors.unsupported(`the ${backend.name} backend keeps no records, so no metrics history`, { details: { backend: backend.name } })
  }
  const window = request.window ?? '1h'
  const spec = WINDOWS[window]
  const now = await backend.now()
  const last = Math.floor(now / spec.stepMs) * spec.stepMs
  const first = last - (spec.points - 1) * spec.stepMs
  const records = await readSteps(backend, spec.collection, spec.key(first - spec.stepMs), spec.key(last), spec.points)
  const steps = new Map<string, StepValue>(records.map(record => [record.key, asStep(record.value)]))
  const queues = new Set<string>()
  for (const step of steps.values()) {
    for (const name of [...Object.keys(step.c), ...Object.keys(step.d ?? {})]) {
      if (queues.size < MAX_QUEUES_PER_STEP) queues.add(name)
    }
  }
  const points: ResponseOf<'GetMetricsHistory'>['points'] = []
  for (let time = first; time <= last; time += spec.stepMs) {
    const point = pointOf(time, steps.get(spec.key(time)), request.queue)
    const counts = Object.fromEntries(COUNT_FIELDS.map((field, i) => [field, point.counts[i] ?? 0])) as Record<typeof COUNT_FIELDS[number], number>
    points.push({
      time: iso(time),
      counts,
      ...(point.depth === undefined ? {} : { depth: { ready: point.depth[0], processing: point.depth[1], scheduled: point.depth[2], dead: point.depth[3] } })
    })
  }
  return {
    window,
    stepSeconds: spec.stepMs / 1000,
    ...(request.queue === undefined ? {} : { queue: request.queue }),
    from: iso(first),
    to: iso(last + spec.stepMs),
    points,
    queues: [...queues].sort()
  }
}
