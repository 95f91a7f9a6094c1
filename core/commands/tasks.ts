import { Errors } from '../errors.ts'
import { TASK_STATES, type TaskState } from '../backend/types.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { connectAdmin } from './admin-connection.ts'
import { connectOptions } from './connection-flags.ts'
import { print, table } from './format.ts'

export async function runTasks (values: Record<string, string | boolean | undefined>): Promise<number> {
  const str = (k: string): string | undefined => typeof values[k] === 'string' ? values[k] as string : undefined
  const state = str('state')
  if (state !== undefined && !TASK_STATES.includes(state as TaskState)) {
    throw Errors.validation(`--state: "${state}" is not one of ${TASK_STATES.join(', ')}`)
  }
  const request: RequestOf<'ListTasks'> = { limit: pageNumber('--limit', str('limit'), 50, 1), offset: pageNumber('--offset', str('offset'), 0, 0) }
  if (state !== undefined) request.state = state as TaskState
  for (const field of ['queue', 'handler', 'query'] as const) {
    const value = str(field)
    if (value !== undefined) request[field] = value
  }
  const admin = await connectAdmin(connectOptions(values))
  try {
    const page = await admin.call('ListTasks', request)
    print(values.json === true ? page : formatTasks(page))
    return 0
  } finally {
    await admin.close()
  }
}

export function pageNumber (flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw Errors.validation(`${flag}: must be an integer of at least ${min}`)
  return n
}

export function formatTasks (page: Pick<ResponseOf<'ListTasks'>, 'tasks' | 'total'>): string {
  const rows = page.tasks.map((t) => [t.id, t.state, t.queue, t.handler, `${t.attempts}/${t.maxAttempts}`, t.updatedAt, (t.lastError ?? '').slice(0, 60)])
  return `${table(['ID', 'STATE', 'QUEUE', 'HANDLER', 'ATTEMPTS', 'UPDATED', 'LAST ERROR'], rows)}\n${page.tasks.length} shown${page.total === undefined ? '' : ` of ${page.total}`}`
}
