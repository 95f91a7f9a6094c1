import { selectTaskActionIds, TASK_ACTION_STATES, TASK_STATES, type Backend, type SkippedTask, type TaskAction, type TaskActionResult, type TaskState } from '@switchyard/core'
import { parseId, type BackendContext } from './context.ts'
import type { SqlParam } from './sql-client.ts'
import { taskAdminMethods } from './task-admin.ts'
import { CASCADE_COLUMNS, reportCascade, type CascadeColumns } from './dependencies.ts'

// Bulk operator actions (Backend.applyTaskAction). A filter selects through listTasks,
// the list's own WHERE and ORDER BY; retry and delete are requeueTasks and deleteTasks;
// the other actions are one UPDATE each that re-checks every row's state under its row
// lock, so a task a worker leased after the selection is skipped, never changed.

type TaskActionMethods = Pick<Backend, 'applyTaskAction'>

const NOT_PROCESSING = TASK_STATES.filter(state => state !== 'processing')

/** SET clause and its parameters (numbered from $3: $1 ids, $2 from-states) for an in-place action */
function updateFor (action: TaskAction): { set: string, params: SqlParam[] } {
  switch (action.kind) {
    case 'cancel':
      return { set: `state = 'canceled', finished_at = now()`, params: [] }
    case 'run_now':
      return { set: `state = 'ready', run_at = now()`, params: [] }
    case 'move':
      return { set: 'queue = $3', params: [action.queue] }
    case 'reschedule': {
      const runAt = `('epoch'::timestamptz + $3::bigint * interval '1 millisecond')`
      return {
        set: `run_at = CASE WHEN $3::bigint IS NULL THEN t.run_at ELSE ${runAt} END,
          priority = coalesce($4::int, t.priority), max_attempts = coalesce($5::int, t.max_attempts),
          state = CASE WHEN $3::bigint IS NULL OR t.state = 'retrying' THEN t.state WHEN ${runAt} > now() THEN 'scheduled' ELSE 'ready' END`,
        params: [action.runAt ?? null, action.priority ?? null, action.maxAttempts ?? null]
      }
    }
    default:
      throw new Error(`no in-place update for ${action.kind}`)
  }
}

export function taskActionMethods (ctx: BackendContext): TaskActionMethods {
  const { s } = ctx
  const admin = taskAdminMethods(ctx)

  async function statesOf (ids: string[]): Promise<Map<string, TaskState>> {
    const valid = ids.map(parseId).filter((id): id is string => id !== null)
    if (valid.length === 0) return new Map()
    const rows = await ctx.db().query<{ id: string, state: TaskState }>(`SELECT t.id::text AS id, t.state FROM ${s}.tasks t WHERE t.id = ANY($1::bigint[])`, [valid])
    return new Map(rows.map(r => [r.id, r.state]))
  }

  function skippedOf (id: string, state: TaskState | undefined): SkippedTask {
    return state === undefined ? { id, reason: 'not_found' } : { id, reason: 'wrong_state', state }
  }

  return {
    async applyTaskAction (req): Promise<TaskActionResult> {
      const ids = await selectTaskActionIds(admin.listTasks, req)
      const fromStates = [...TASK_ACTION_STATES[req.action.kind]]
      if (ids.length === 0) return { changed: [], skipped: [] }
      if (req.action.kind === 'retry') {
        const result = await admin.requeueTasks({ ids, fromStates, dryRun: req.dryRun })
        return { changed: result.requeued, skipped: result.skipped }
      }
      if (req.action.kind === 'delete') {
        const result = await admin.deleteTasks({ ids, fromStates: NOT_PROCESSING, dryRun: req.dryRun })
        return { changed: result.deleted, skipped: result.skipped }
      }
      const before = await statesOf(ids)
      const eligible: string[] = []
      const skipped = new Map<string, SkippedTask>()
      for (const id of ids) {
        const state = before.get(parseId(id) ?? '')
        if (state !== undefined && fromStates.includes(state)) eligible.push(id)
        else skipped.set(id, skippedOf(id, state))
      }
      let changedRows = new Set<string>()
      if (req.dryRun === true) {
        changedRows = new Set(eligible.map(id => parseId(id) as string))
      } else if (eligible.length > 0) {
        if (req.action.kind === 'move') await ctx.db().query(`INSERT INTO ${s}.queues (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [req.action.queue])
        const { set, params } = updateFor(req.action)
        // a cancel finishes parents: their cascades are reported (reportCascade)
        const cancel = req.action.kind === 'cancel'
        const rows = await ctx.db().query<{ id: string } & Partial<CascadeColumns>>(`
          WITH target AS MATERIALIZED (
            SELECT t.id FROM ${s}.tasks t WHERE t.id = ANY($1::bigint[]) AND t.state = ANY($2::text[]) ORDER BY t.id FOR UPDATE OF t
          )
          UPDATE ${s}.tasks t SET ${set}, updated_at = now()
          FROM target WHERE t.id = target.id
          RETURNING t.id::text AS id${cancel ? `, ${CASCADE_COLUMNS}` : ''}`, [eligible.map(id => parseId(id) as string), fromStates, ...params])
        if (cancel) await reportCascade(ctx, rows as Array<{ id: string } & CascadeColumns>)
        changedRows = new Set(rows.map(r => r.id))
        const raced = eligible.filter(id => !changedRows.has(parseId(id) as string))
        if (raced.length > 0) {
          const now = await statesOf(raced)
          for (const id of raced) skipped.set(id, skippedOf(id, now.get(parseId(id) as string)))
        }
      }
      return {
        changed: ids.filter(id => changedRows.has(parseId(id) ?? '') && !skipped.has(id)),
        skipped: ids.filter(id => skipped.has(id)).map(id => skipped.get(id) as SkippedTask)
      }
    }
  }
}
