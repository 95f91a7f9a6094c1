import type { Backend, Task } from '../backend/types.ts'
import { MAX_LIST_LIMIT } from '../backend/types.ts'
import { MINUTE_MS, MINUTE_RETENTION_MS, minuteKey, zeroCounts, type Counts } from './steps.ts'

// Dead letters are counted from the store, not from what one process saw. A task
// reaches `dead` on many paths, most of which no process observes: the recovery sweep
// of an expired lease on the last attempt, an operator's ReleaseWorkerLeases, a
// dependency cascade (inside a Postgres trigger or a Lua script), a child enqueued
// under a parent that is dead already. Every one of them stamps finishedAt, so the
// leader reads the dead tasks finished since its cursor (listTasks, state dead, a
// finished-time window: an index range on every backend) and counts each one into the
// minute it died in, under its queue, as failed and dead.
//
// The cursor lives in a record, moved with compare-and-set before the counts are
// added: a new leader continues where the last one stopped, and a window is never
// counted twice (a crash between the two loses that window's counts instead).
// The window ends `settleMs` before now, so a dead-letter committed late (a
// transaction's time is its start; clocks of BullMQ workers drift) is still ahead of it.
// A task replayed or purged before the leader's next round (seconds) is not counted.

export const CURSORS_COLLECTION = 'metrics.cursors'
const DEAD_CURSOR = 'dead-letters'
/** halvings of the window tried when it holds more dead tasks than one page */
const MAX_SPLITS = 24

export interface DeadLetterCount {
  /** counts per minute key, then per queue ([0, 0, n, n, 0]: failed and dead) */
  minutes: Map<string, Map<string | null, Counts>>
  /** tasks counted */
  counted: number
  /** the window's end (exclusive), now the cursor; null when another leader moved it first */
  until: number | null
}

interface Cursor { until: number }

function asCursor (value: unknown): Cursor | null {
  if (value === null || typeof value !== 'object') return null
  const until = (value as { until?: unknown }).until
  return typeof until === 'number' && Number.isFinite(until) ? { until } : null
}

/**
 * Counts the dead-letters of one window past the stored cursor (the first round:
 * the last minute) and moves the cursor past it. A window holding more than a page
 * of dead tasks is halved until it does not, so a storm is counted over a few rounds.
 */
export async function countDeadLetters (backend: Backend, now: number, settleMs: number): Promise<DeadLetterCount> {
  const stored = await backend.getRecord(CURSORS_COLLECTION, DEAD_CURSOR)
  const cursor = stored === null ? null : asCursor(stored.value)
  const to = now - settleMs
  const from = Math.max(cursor?.until ?? to - MINUTE_MS, now - MINUTE_RETENTION_MS)
  const minutes = new Map<string, Map<string | null, Counts>>()
  if (to <= from) return { minutes, counted: 0, until: from }

  let end = to
  let tasks: Task[] = []
  let beyondPage = 0
  for (let split = 0; ; split++) {
    // both ends of a window are inclusive: [from, end - 1]
    const page = await backend.listTasks({ state: 'dead', timeField: 'finished', since: from, until: end - 1, limit: MAX_LIST_LIMIT, offset: 0 })
    tasks = page.tasks
    if (tasks.length < MAX_LIST_LIMIT) break
    if (end - from <= 1 || split >= MAX_SPLITS) {
      // more than a page died in one millisecond: the rest is counted without a queue
      beyondPage = Math.max(0, (page.total ?? tasks.length) - tasks.length)
      break
    }
    end = from + Math.floor((end - from) / 2)
  }

  const written = await backend.putRecord(CURSORS_COLLECTION, DEAD_CURSOR, { until: end }, { ifVersion: stored === null ? null : stored.version })
  if (!written.ok) return { minutes, counted: 0, until: null }

  const add = (key: string, queue: string | null, n: number): void => {
    let minute = minutes.get(key)
    if (minute === undefined) { minute = new Map(); minutes.set(key, minute) }
    let counts = minute.get(queue)
    if (counts === undefined) { counts = zeroCounts(); minute.set(queue, counts) }
    counts[2] += n
    counts[3] += n
  }
  for (const task of tasks) add(minuteKey(task.finishedAt ?? end - 1), task.queue, 1)
  if (beyondPage > 0) add(minuteKey(end - 1), null, beyondPage)
  return { minutes, counted: tasks.length + beyondPage, until: end }
}
