import { createHash } from 'node:crypto'
import { Errors } from '../errors.ts'
import type { TaskFilter } from '../backend/types.ts'

// The opaque cursor of ListTasks and ListDLQ: the backend's page position (TaskPage.next)
// plus a fingerprint of the list it came from (which list, which backend, which filter).
// A cursor of another filter would continue a different order at a meaningless
// position, so it is refused instead of silently answering a wrong page. The cursor
// is not a secret: forging one only reaches a page the caller could list anyway.

export type CursorList = 'tasks' | 'dlq'

interface CursorBody { v: 1, f: string, p: string }

const FILTER_KEYS: Array<keyof TaskFilter> = ['state', 'queue', 'handler', 'query', 'since', 'until', 'timeField', 'tenant', 'correlationId']

/** a short digest of the list, the backend and every filter field, in a fixed key order */
function fingerprint (list: CursorList, backend: string, filter: TaskFilter): string {
  const fields = FILTER_KEYS.map(key => [key, filter[key] ?? null])
  return createHash('sha256').update(JSON.stringify([list, backend, fields])).digest('base64url').slice(0, 16)
}

export function encodeListCursor (list: CursorList, backend: string, filter: TaskFilter, position: string): string {
  const body: CursorBody = { v: 1, f: fingerprint(list, backend, filter), p: position }
  return Buffer.from(JSON.stringify(body)).toString('base64url')
}

function refuse (message: string): never {
  throw Errors.validation(`cursor: ${message}`, { details: { field: 'cursor' } })
}

/** the backend position a cursor holds; refuses (400 naming cursor) a malformed cursor or one of another list or filter */
export function decodeListCursor (list: CursorList, backend: string, filter: TaskFilter, cursor: string): string {
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    refuse('not a cursor this server answered (pass nextCursor back unchanged)')
  }
  const { v, f, p } = (body ?? {}) as Partial<CursorBody>
  if (v !== 1 || typeof f !== 'string' || typeof p !== 'string' || p === '') refuse('not a cursor this server answered (pass nextCursor back unchanged)')
  if (f !== fingerprint(list, backend, filter)) {
    refuse(`belongs to another ${list === 'dlq' ? 'DLQ' : 'task'} list: page with the same filter (state, queue, handler, query, time window, tenant, correlation id) the cursor came from, or start again without cursor`)
  }
  return p
}

/** refuses cursor together with a non-zero offset: the two positions could disagree */
export function checkCursorOffset (cursor: string | undefined, offset: number | undefined): void {
  if (cursor !== undefined && offset !== undefined && offset !== 0) {
    throw Errors.validation('cursor: give either cursor or offset, not both (cursor is the fast way)', { details: { field: 'cursor' } })
  }
}
