import { Errors } from '../errors.ts'
import { TASK_STATES, type TaskState, type Task } from '../backend/types.ts'
import { openClient } from '../app.ts'

export async function runTasks (values: Record<string, string | undefined>): Promise<number> {
  const state = values.state
  if (state !== undefined && !TASK_STATES.includes(state as TaskState)) {
    throw Errors.validation(`--state: "${state}" is not one of ${TASK_STATES.join(', ')}`)
  }
  const limit = values.limit === undefined ? 50 : Number(values.limit)
  const offset = values.offset === undefined ? 0 : Number(values.offset)
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw Errors.validation('--limit: must be an integer from 1 to 1000')
  if (!Number.isInteger(offset) || offset < 0) throw Errors.validation('--offset: must be a non-negative integer')

  const client = await openClient(values.config)
  try {
    const page = await client.backend.listTasks({
      limit,
      offset,
      ...(state === undefined ? {} : { state: state as TaskState }),
      ...(values.queue === undefined ? {} : { queue: values.queue }),
      ...(values.handler === undefined ? {} : { handler: values.handler }),
      ...(values.query === undefined ? {} : { query: values.query })
    })
    process.stdout.write(formatTasks(page.tasks, page.total) + '\n')
    return 0
  } finally {
    await client.close()
  }
}

export function formatTasks (tasks: Task[], total: number | null): string {
  const rows = tasks.map((t) => [t.id, t.state, t.queue, t.handler, `${t.attempts}/${t.maxAttempts}`, new Date(t.updatedAt).toISOString(), (t.lastError ?? '').slice(0, 60)])
  const header = ['ID', 'STATE', 'QUEUE', 'HANDLER', 'ATTEMPTS', 'UPDATED', 'LAST ERROR']
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  const lines = all.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
  lines.push(`${tasks.length} shown${total === null ? '' : ` of ${total}`}`)
  return lines.join('\n')
}
