import { Errors, type TaskState } from '@switchyard/core'
import { parseId } from './context.ts'
import type { SqlParam } from './sql-client.ts'

// Keyset paging of listTasks: each list order is a total order ending in the id, and a
// page position is the last row's sort key, so the next page is an index range that
// starts at the position (O(log n) however deep) instead of an OFFSET that walks every
// skipped row. Times travel as epoch microseconds (the column's own precision), so a
// position never falls between two rows of the same millisecond.

const FINISHED: TaskState[] = ['dead', 'succeeded', 'canceled']
const WAITING: TaskState[] = ['ready', 'scheduled', 'retrying', 'blocked']

/** finished: finished_at DESC, id DESC · waiting: priority DESC, run_at, id · newest: id DESC */
export type TaskOrder = 'finished' | 'waiting' | 'newest'

export function taskOrder (state: TaskState | undefined): TaskOrder {
  if (state !== undefined && FINISHED.includes(state)) return 'finished'
  if (state !== undefined && WAITING.includes(state)) return 'waiting'
  return 'newest'
}

export const ORDER_SQL: Record<TaskOrder, string> = {
  finished: 't.finished_at DESC, t.id DESC',
  waiting: 't.priority DESC, t.run_at, t.id',
  newest: 't.id DESC'
}

/** the sort key of a row as exact text: select these beside the task columns */
export function positionColumns (alias = 't'): string {
  const micros = (column: string): string => `((extract(epoch FROM ${alias}.${column}) * 1000000)::bigint)::text`
  return `${micros('finished_at')} AS pos_finished, ${micros('run_at')} AS pos_run`
}

export interface PositionRow { id: string, priority: number, pos_finished: string | null, pos_run: string }

export type Position =
  | { order: 'newest', id: string }
  | { order: 'finished', finished: string, id: string }
  | { order: 'waiting', priority: number, run: string, id: string }

export function positionOf (order: TaskOrder, row: PositionRow): string {
  if (order === 'newest') return `n.${row.id}`
  if (order === 'finished') return `f.${row.pos_finished ?? '0'}.${row.id}`
  return `w.${row.priority}.${row.pos_run}.${row.id}`
}

const MICROS = /^-?[0-9]{1,18}$/
const PRIORITY = /^-?[0-9]{1,4}$/

/** reads a position of this order; anything else is refused naming `cursor` */
export function parsePosition (order: TaskOrder, text: string): Position {
  const parts = text.split('.')
  const bad = (): never => { throw Errors.validation('cursor: not a position of this task list (pass nextCursor back unchanged)', { details: { field: 'cursor' } }) }
  const id = parseId(parts[parts.length - 1]) ?? bad()
  if (order === 'newest' && parts.length === 2 && parts[0] === 'n') return { order, id }
  if (order === 'finished' && parts.length === 3 && parts[0] === 'f' && MICROS.test(parts[1] ?? '')) return { order, finished: parts[1] as string, id }
  if (order === 'waiting' && parts.length === 4 && parts[0] === 'w' && PRIORITY.test(parts[1] ?? '') && MICROS.test(parts[2] ?? '')) {
    return { order, priority: Number(parts[1]), run: parts[2] as string, id }
  }
  return bad()
}

const timeOf = (param: string): string => `(timestamptz 'epoch' + ${param}::bigint * interval '1 microsecond')`

/**
 * The keyset condition(s) of a position: one list of WHERE clauses per index range to
 * read, in list order. Newest and finished are one range each; waiting is two, because priority runs
 * descending and run_at ascending: the rest of the position's priority, then every
 * lower priority, each a plain range of tasks_lease_handler (queue, handler, priority DESC, run_at, id)
 * for one (queue, handler).
 */
export function afterSql (position: Position, params: SqlParam[]): string[][] {
  const p = (value: SqlParam): string => { params.push(value); return `$${params.length}` }
  if (position.order === 'newest') return [[`t.id < ${p(position.id)}::bigint`]]
  if (position.order === 'finished') {
    const at = timeOf(p(position.finished))
    const id = p(position.id)
    // a row comparison over the columns of tasks_finished_order (state, finished_at, id): one index range
    return [[`(t.finished_at, t.id) < (${at}, ${id}::bigint)`]]
  }
  const priority = p(position.priority)
  const run = timeOf(p(position.run))
  const id = p(position.id)
  return [
    [`t.priority = ${priority}::int`, `(t.run_at, t.id) > (${run}, ${id}::bigint)`],
    [`t.priority < ${priority}::int`]
  ]
}

/** the states tasks_lease_handler (queue, handler, priority DESC, run_at, id) holds */
export const LEASE_INDEXED: TaskState[] = ['ready', 'scheduled', 'retrying']

/**
 * The handlers with pending tasks (the states of LEASE_INDEXED) in the queue `queue`
 * (an SQL expression), as a subquery of `name`s in handler order: a skip scan of
 * tasks_lease_handler, one index descent per handler. There is no index of a queue in
 * run order across its handlers (migration 024 dropped it), so a waiting list of a
 * queue is the merge of one range per handler this names.
 */
export function pendingHandlerScan (s: string, queue: string): string {
  const pending = "t.state IN ('ready', 'scheduled', 'retrying')"
  return `(
      WITH RECURSIVE h(name) AS (
        (SELECT t.handler FROM ${s}.tasks t WHERE t.queue = ${queue} AND ${pending} ORDER BY t.handler LIMIT 1)
        UNION ALL
        SELECT (SELECT t.handler FROM ${s}.tasks t WHERE t.queue = ${queue} AND ${pending} AND t.handler > h.name ORDER BY t.handler LIMIT 1)
        FROM h WHERE h.name IS NOT NULL
      )
      SELECT h.name FROM h WHERE h.name IS NOT NULL)`
}
