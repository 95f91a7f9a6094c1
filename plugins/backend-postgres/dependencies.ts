import { cascadedTask, Errors, MAX_CASCADE_REPORT, MAX_CHILD_LINKS, type CascadedTask, type EnqueueEvents, type EnqueueResult, type NewTask, type TaskLinks, type TaskState } from '@switchyard/core'
import { parseId, type BackendContext } from './context.ts'
import type { SqlQueryable } from './sql-client.ts'

// Enqueue with dependsOn and the graph reads. Settling children when a parent
// finishes is not here: triggers of migration 013 (each edge counted once since 016)
// do it in the transaction of whatever statement finished the parent (ack, fail,
// recovery, cancel, delete). What they canceled or dead-lettered is reported to
// Backend.watchCascades' listeners by reportCascade, after that statement.

/**
 * RETURNING columns of a statement that may finish parents (alias t), for
 * reportCascade: whether the row has children, and the statement's transaction time in
 * µs, which the triggers gave every task they finished in it as finished_at.
 */
export const CASCADE_COLUMNS = `t.has_children, ((extract(epoch FROM now()) * 1000000)::bigint)::text AS cascade_at`
export interface CascadeColumns { has_children: boolean, cascade_at: string }

/**
 * Reports to the listeners the tasks the triggers finished below `parents` (rows a
 * statement with CASCADE_COLUMNS just made dead or canceled) and below the deleted
 * parents whose children were `orphans` (their edges are gone with them). A task
 * belongs to this cascade when it is dead or canceled, finished in that transaction
 * (finished_at = cascade_at) and its last error names its parent, as the trigger wrote
 * it; a task replayed or purged in the moment between the two statements is missed.
 * The statement's effect is committed: a failure here never fails the call.
 */
export async function reportCascade (ctx: BackendContext, finished: Array<CascadeColumns & { id: string }>, orphans: string[] = []): Promise<void> {
  if (!ctx.cascades.active) return
  const parents = finished.filter(row => row.has_children)
  const at = parents[0]?.cascade_at ?? finished[0]?.cascade_at
  if (at === undefined || (parents.length === 0 && orphans.length === 0)) return
  const { s } = ctx
  const finishedHere = `c.state IN ('dead', 'canceled') AND (extract(epoch FROM c.finished_at) * 1000000)::bigint = $3::bigint`
  try {
    const rows = await ctx.db().query<{ id: string, queue: string, state: string }>(`
      WITH RECURSIVE cascade (id, queue, state) AS (
        SELECT c.id, c.queue, c.state FROM ${s}.task_deps d JOIN ${s}.tasks c ON c.id = d.child
        WHERE d.parent = ANY($1::bigint[]) AND ${finishedHere} AND c.last_error LIKE 'parent task ' || d.parent || ' was %'
        UNION
        SELECT c.id, c.queue, c.state FROM ${s}.tasks c
        WHERE c.id = ANY($2::bigint[]) AND ${finishedHere} AND c.last_error LIKE 'parent task % was deleted'
        UNION
        SELECT c.id, c.queue, c.state FROM cascade p JOIN ${s}.task_deps d ON d.parent = p.id JOIN ${s}.tasks c ON c.id = d.child
        WHERE ${finishedHere} AND c.last_error = 'parent task ' || p.id || ' was ' || p.state
      )
      SELECT id::text AS id, queue, state FROM cascade LIMIT ${MAX_CASCADE_REPORT}`, [parents.map(row => row.id), orphans, at])
    ctx.cascades.report(rows.flatMap(row => cascadedTask(row.id, row.queue, row.state) ?? []))
  } catch {
    // not reported (the metrics history misses these): the call itself succeeded
  }
}

export type EnqueueIn = (db: SqlQueryable, tasks: NewTask[], events: EnqueueEvents | undefined) => Promise<EnqueueResult[]>

/**
 * One transaction: marks the parents (locking them, so none finishes unseen), refuses
 * unknown parents, enqueues as usual, then makes each created child blocked, or applies
 * its policy at once when a parent is already dead or canceled.
 */
export async function enqueueWithDependencies (ctx: BackendContext, tasks: NewTask[], events: EnqueueEvents | undefined, enqueueIn: EnqueueIn): Promise<EnqueueResult[]> {
  const { s } = ctx
  const wanted = new Set<string>()
  for (const task of tasks) for (const parent of task.dependsOn ?? []) wanted.add(parent)
  let states = new Map<string, TaskState>()
  const results = await ctx.db().transaction(async tx => {
    const valid = [...wanted].map(id => ({ id, parsed: parseId(id) }))
    // locked in id order, so two enqueues naming the same parents never deadlock
    const rows = await tx.query<{ id: string, state: TaskState }>(`
      WITH locked AS MATERIALIZED (SELECT id FROM ${s}.tasks WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE)
      UPDATE ${s}.tasks t SET has_children = true FROM locked
      WHERE t.id = locked.id
      RETURNING t.id::text AS id, t.state`, [valid.flatMap(v => v.parsed === null ? [] : [v.parsed])])
    states = new Map(rows.map(r => [r.id, r.state]))
    const missing = valid.find(v => v.parsed === null || !states.has(v.parsed))
    if (missing !== undefined) {
      throw Errors.validation(`dependsOn: no task ${missing.id} (a parent must be a stored task)`, { details: { field: 'dependsOn', id: missing.id } })
    }
    const results = await enqueueIn(tx, tasks, events)
    const children: string[] = []
    const parents: string[] = []
    // an edge whose parent has succeeded already is counted now (migration 016)
    const counted: boolean[] = []
    const pending: number[] = []
    const policies: string[] = []
    const failures: Array<string | null> = []
    const dependsOn: string[] = []
    for (const [i, task] of tasks.entries()) {
      const result = results[i] as EnqueueResult
      if (!result.created || task.dependsOn === undefined || task.dependsOn.length === 0) continue
      const ids = task.dependsOn.map(id => parseId(id) as string)
      let waiting = 0
      let failure: string | null = null
      for (const id of ids) {
        const state = states.get(id)
        if (state === 'dead' || state === 'canceled') failure ??= `parent task ${id} was ${state}`
        else if (state !== 'succeeded') waiting++
      }
      for (const id of ids) { children.push(result.id); parents.push(id); counted.push(states.get(id) === 'succeeded') }
      // one row per child for the update: its parents as a Postgres array literal
      dependsOn.push(`{${ids.join(',')}}`)
      pending.push(waiting)
      policies.push(task.onParentFailure ?? 'cancel')
      failures.push(failure)
    }
    if (dependsOn.length === 0) return results
    const childIds = results.flatMap((r, i) => r.created && (tasks[i]?.dependsOn?.length ?? 0) > 0 ? [r.id] : [])
    await tx.query(`INSERT INTO ${s}.task_deps (parent, child, counted) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::boolean[]) ON CONFLICT DO NOTHING`, [parents, children, counted])
    await tx.query(`
      UPDATE ${s}.tasks t SET
        depends_on = u.depends_on::bigint[], on_parent_failure = u.policy, pending_parents = u.pending,
        state = CASE
          WHEN u.failure IS NOT NULL THEN CASE WHEN u.policy = 'dead' THEN 'dead' ELSE 'canceled' END
          WHEN u.pending > 0 THEN 'blocked'
          ELSE t.state END,
        last_error = coalesce(u.failure, t.last_error),
        errors = CASE WHEN u.failure IS NOT NULL AND u.policy = 'dead'
          THEN jsonb_build_array(jsonb_build_object('attempt', 0, 'message', u.failure, 'at', ${s}.ms(now()))) ELSE t.errors END,
        finished_at = CASE WHEN u.failure IS NOT NULL THEN now() ELSE t.finished_at END,
        updated_at = now()
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[]) AS u(id, depends_on, policy, pending, failure)
      WHERE t.id = u.id`, [childIds, dependsOn, policies, pending, failures])
    return results
  })
  // children enqueued under a parent that is dead or canceled already took their policy at once
  const finishedAtOnce: CascadedTask[] = []
  for (const [i, task] of tasks.entries()) {
    const result = results[i] as EnqueueResult
    if (!result.created || task.dependsOn === undefined) continue
    if (task.dependsOn.some(id => { const state = states.get(parseId(id) as string); return state === 'dead' || state === 'canceled' })) {
      finishedAtOnce.push({ id: result.id, queue: task.queue, state: task.onParentFailure === 'dead' ? 'dead' : 'canceled' })
    }
  }
  ctx.cascades.report(finishedAtOnce)
  return results
}

export function dependencyMethods (ctx: BackendContext): { taskLinks: (ids: string[]) => Promise<TaskLinks[]> } {
  const { s } = ctx
  return {
    async taskLinks (ids) {
      const parsed = [...new Set(ids.map(parseId).filter((id): id is string => id !== null))]
      if (parsed.length === 0) return []
      const rows = await ctx.db().query<{ id: string, queue: string, handler: string, state: TaskState, parents: string[] | null, children: string[] | null }>(`
        SELECT t.id::text AS id, t.queue, t.handler, t.state, t.depends_on::text[] AS parents,
          CASE WHEN t.has_children THEN ARRAY(
            SELECT d.child::text FROM ${s}.task_deps d JOIN ${s}.tasks c ON c.id = d.child
            WHERE d.parent = t.id ORDER BY d.child LIMIT ${MAX_CHILD_LINKS}
          ) END AS children
        FROM ${s}.tasks t WHERE t.id = ANY($1::bigint[])
        ORDER BY t.id`, [parsed])
      return rows.map(r => ({ id: r.id, queue: r.queue, handler: r.handler, state: r.state, parents: r.parents ?? [], children: r.children ?? [] }))
    }
  }
}
