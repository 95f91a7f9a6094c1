import { payloadJson, type Backend, type EnqueueResult, type NewTask, type TaskState } from '@switchyard/core'
import type { BackendContext } from './context.ts'
import { taskColumns, toTask, type TaskRow } from './task-rows.ts'

// Idempotency keys as handles: the replace modes of enqueue, and the lookup by key.
// The unique index tasks_idempotency makes the key a handle on at most one task.

type TaskKeyMethods = Pick<Backend, 'getTaskByKey'>

/** the states a task has not started in: replace modes update only these, with attempts 0 */
const REPLACEABLE = `('scheduled', 'ready')`

function replaceSql (s: string): string {
  // $1 key, $2 payload, $3 payload bytes, $4 priority, $5 max attempts, $6 timeout,
  // $7 runAt ms (null: now + $8 delay ms), $9 keep the stored runAt. One statement:
  // the row lock orders it against a lease, so a task that started is never changed.
  return `
    WITH v AS (
      SELECT CASE WHEN $9::boolean THEN NULL::timestamptz
                  WHEN $7::float8 IS NULL THEN now() + $8::float8 * interval '1 millisecond'
                  ELSE 'epoch'::timestamptz + $7::float8 * interval '1 millisecond' END AS run_at
    )
    UPDATE ${s}.tasks t SET payload = $2::jsonb, payload_size = $3, priority = $4, max_attempts = $5, timeout_ms = $6,
      run_at = coalesce(v.run_at, t.run_at),
      state = CASE WHEN coalesce(v.run_at, t.run_at) > now() THEN 'scheduled' ELSE 'ready' END,
      updated_at = now()
    FROM v
    WHERE t.idempotency_key = $1 AND t.state IN ${REPLACEABLE} AND t.attempts = 0
    RETURNING t.id::text AS id`
}

/**
 * For each task of a replace mode that enqueue did not create (its key is held),
 * updates the key's task in place when it has not started. Results by task index:
 * replaced, or existing with the state that kept it; a key whose task is gone by now
 * is left out (enqueue creates it again).
 */
export async function replaceCollided (ctx: BackendContext, tasks: NewTask[], results: EnqueueResult[]): Promise<Map<number, EnqueueResult>> {
  const { s } = ctx
  const out = new Map<number, EnqueueResult>()
  const sql = replaceSql(s)
  for (const [i, task] of tasks.entries()) {
    const mode = task.idempotencyMode
    if (results[i]?.created !== false || (mode !== 'replace' && mode !== 'preserve_run_at')) continue
    const payload = payloadJson(task)
    const [row] = await ctx.db().query<{ id: string }>(sql, [task.idempotencyKey, payload, Buffer.byteLength(payload), task.priority,
      task.maxAttempts, task.timeoutMs, task.runAt, task.delayMs ?? 0, mode === 'preserve_run_at'])
    if (row !== undefined) {
      out.set(i, { id: row.id, created: false, outcome: 'replaced' })
      continue
    }
    // a fresh statement sees the state that kept the task from being replaced
    const [owner] = await ctx.db().query<{ id: string, state: TaskState }>(
      `SELECT id::text AS id, state FROM ${s}.tasks WHERE idempotency_key = $1`, [task.idempotencyKey])
    if (owner !== undefined) out.set(i, { id: owner.id, created: false, outcome: 'existing', state: owner.state })
  }
  return out
}

export function taskKeyMethods (ctx: BackendContext): TaskKeyMethods {
  const { s } = ctx
  return {
    async getTaskByKey (key) {
      const [row] = await ctx.db().query<TaskRow>(`SELECT ${taskColumns(s)} FROM ${s}.tasks t WHERE t.idempotency_key = $1`, [key])
      return row === undefined ? null : toTask(row)
    }
  }
}
