import { CascadeListeners, Errors } from '@switchyard/core'
import type { PushWaiters } from './pglite-push.ts'
import type { SqlClient } from './sql-client.ts'

// What every group of backend methods shares: the SQL client (opened by init), the
// schema every statement is qualified with, and the resolved options.

export interface BackendContext {
  /** the open client; throws before init() and after close() */
  db: () => SqlClient
  /** quoted schema, for interpolating into SQL text */
  s: string
  schema: string
  maxEvents: number
  notify: boolean
  /** lease, ack, extend and release skip waiting for the WAL flush */
  asyncCommit: boolean
  workChannel: string
  eventsChannel: string
  /**
   * A read found committed events it may not answer yet (they wait for older
   * transactions to end): this process's event subscribers are woken again shortly,
   * since the notification those events sent has already been spent on that read.
   */
  eventsHeldBack: () => void
  /** Backend.watchCascades' listeners (dependencies.ts reports to them) */
  cascades: CascadeListeners
  /** the idle workers an enqueue may lease tasks to (PGlite: pglite-push.ts); null on a server */
  push: PushWaiters | null
}

export function createContext (schema: string, options: { maxEvents: number, notify: boolean, asyncCommit: boolean }, getClient: () => SqlClient | null, push: PushWaiters | null = null): BackendContext {
  return {
    db () {
      const client = getClient()
      if (client === null) throw Errors.backendUnavailable('postgres backend is not initialised (call init()) or already closed')
      return client
    },
    s: `"${schema}"`,
    schema,
    maxEvents: options.maxEvents,
    notify: options.notify,
    asyncCommit: options.asyncCommit,
    workChannel: `sy_work_${schema}`,
    eventsChannel: `sy_events_${schema}`,
    eventsHeldBack: () => {},
    cascades: new CascadeListeners(),
    push
  }
}

const MAX_BIGINT = 9223372036854775807n

const CANONICAL_SHORT_ID = /^[1-9][0-9]{0,17}$/

/** A task/event/audit id as the canonical decimal string, or null when it cannot name a row. */
export function parseId (id: unknown): string | null {
  if (typeof id !== 'string') return null
  // the common case, every id this backend issues below 10^18: canonical already (no
  // leading zero, at least 1, below 2^63), so no BigInt is made for it (two per ack)
  if (CANONICAL_SHORT_ID.test(id)) return id
  if (!/^[0-9]{1,19}$/.test(id)) return null
  const value = BigInt(id)
  if (value < 1n || value > MAX_BIGINT) return null
  return value.toString()
}

/** Like parseId for values a caller must get right (cursors): VALIDATION_FAILED naming the field. */
export function requireId (field: string, id: unknown): string {
  const parsed = parseId(id)
  if (parsed === null) throw Errors.validation(`${field}: must be a decimal id`, { details: { field } })
  return parsed
}

/** Escapes LIKE wildcards so a search string matches literally. */
export function likeContains (text: string): string {
  return '%' + text.replace(/[\\%_]/g, ch => '\\' + ch) + '%'
}
