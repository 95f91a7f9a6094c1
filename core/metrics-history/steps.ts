// The stored shape of the metrics history, and the pure rules over it (keys, merging,
// rolling up, reading a series). No I/O here: store.ts reads and writes steps through
// the backend's records, recorder.ts feeds them, reader.ts answers GetMetricsHistory.
//
// One record per step (a minute or an hour) holds every queue, so a 24 h series is
// 1440 small records read in two listRecords pages whatever the number of queues.

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000
export const MINUTES_COLLECTION = 'metrics.minutes'
export const HOURS_COLLECTION = 'metrics.hours'
/** minutes are kept this long, hourly rollups that long */
export const MINUTE_RETENTION_MS = 24 * HOUR_MS
export const HOUR_RETENTION_MS = 30 * 24 * HOUR_MS
/** queues kept apart in one step; the counts of further queues go to `o` (all queues only) and their depth is left out */
export const MAX_QUEUES_PER_STEP = 200

/** [enqueued, succeeded, failed, dead, replayed] */
export type Counts = [number, number, number, number, number]
/** [ready, processing, scheduled, dead] */
export type Depth = [number, number, number, number]

export interface StepValue {
  /** counts per queue */
  c: Record<string, Counts>
  /** counts that name no queue (or a queue past MAX_QUEUES_PER_STEP): part of the all-queues series only */
  o?: Counts
  /** depth per queue, the latest sample of the step */
  d?: Record<string, Depth>
}

export const COUNT_FIELDS = ['enqueued', 'succeeded', 'failed', 'dead', 'replayed'] as const
export type CountField = typeof COUNT_FIELDS[number]

export function zeroCounts (): Counts {
  return [0, 0, 0, 0, 0]
}

export function emptyStep (): StepValue {
  return { c: {} }
}

function pad (n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

/** "YYYY-MM-DDTHH:MM" (UTC): sorts as time does, so listRecords pages through time */
export function minuteKey (ms: number): string {
  const d = new Date(ms)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
}

/** "YYYY-MM-DDTHH" (UTC); every minute key of the hour sorts after it and before the next hour's */
export function hourKey (ms: number): string {
  return minuteKey(ms).slice(0, 13)
}

export function keyTime (key: string): number {
  return Date.parse(`${key.length === 13 ? `${key}:00` : key}:00Z`)
}

/** a value read back from a record: anything not of the stored shape counts as empty */
export function asStep (value: unknown): StepValue {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return emptyStep()
  const v = value as Partial<StepValue>
  return {
    c: v.c !== null && typeof v.c === 'object' ? v.c : {},
    ...(Array.isArray(v.o) ? { o: v.o } : {}),
    ...(v.d !== null && typeof v.d === 'object' ? { d: v.d } : {})
  }
}

function add (into: number[], delta: readonly number[]): void {
  for (let i = 0; i < into.length; i++) into[i] = (into[i] ?? 0) + (delta[i] ?? 0)
}

/** adds counts per queue (null: no queue) into a step, keeping the queue bound */
export function addCounts (step: StepValue, deltas: ReadonlyMap<string | null, Counts>): StepValue {
  for (const [queue, delta] of deltas) {
    const into = queue === null ? undefined : step.c[queue]
    if (into !== undefined) add(into, delta)
    else if (queue !== null && Object.keys(step.c).length < MAX_QUEUES_PER_STEP) step.c[queue] = [...delta] as Counts
    else add(step.o ??= zeroCounts(), delta)
  }
  return step
}

/** replaces the step's depth sample (the latest sample of a step wins) */
export function setDepth (step: StepValue, depth: ReadonlyMap<string, Depth>): StepValue {
  const d: Record<string, Depth> = {}
  for (const [queue, sample] of depth) {
    if (Object.keys(d).length >= MAX_QUEUES_PER_STEP) break
    d[queue] = sample
  }
  step.d = d
  return step
}

/** an hour from its minutes (in key order): counts summed, depth the latest sample */
export function rollUp (minutes: readonly StepValue[]): StepValue {
  const hour = emptyStep()
  for (const minute of minutes) {
    const deltas = new Map<string | null, Counts>(Object.entries(minute.c))
    if (minute.o !== undefined) deltas.set(null, minute.o)
    addCounts(hour, deltas)
    if (minute.d !== undefined) hour.d = minute.d
  }
  return hour
}

export interface SeriesPoint {
  time: number
  counts: Counts
  depth?: Depth
}

/** one queue's point of a step, or all queues' (queue undefined) */
export function pointOf (time: number, step: StepValue | undefined, queue: string | undefined): SeriesPoint {
  if (step === undefined) return { time, counts: zeroCounts() }
  if (queue !== undefined) {
    const depth = step.d?.[queue]
    return { time, counts: [...(step.c[queue] ?? zeroCounts())] as Counts, ...(depth === undefined ? {} : { depth: [...depth] as Depth }) }
  }
  const counts = zeroCounts()
  for (const queueCounts of Object.values(step.c)) add(counts, queueCounts)
  if (step.o !== undefined) add(counts, step.o)
  if (step.d === undefined) return { time, counts }
  const depth: Depth = [0, 0, 0, 0]
  for (const queueDepth of Object.values(step.d)) add(depth, queueDepth)
  return { time, counts, depth }
}
