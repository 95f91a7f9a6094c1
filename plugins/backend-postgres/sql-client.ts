import { Errors } from '@switchyard/core'

// The narrow seam between the backend's SQL and the two ways of reaching Postgres
// (a pg pool for a server, PGlite in-process). Everything above this file is one
// code path; only connection handling, timeouts and LISTEN differ below it.

export type SqlParam = string | number | boolean | null | ReadonlyArray<string | number | boolean | null>

export interface SqlQueryable {
  /** one statement; rows as plain objects */
  query<R = Record<string, unknown>> (text: string, params?: readonly SqlParam[]): Promise<R[]>
  /** several statements without parameters (migrations) */
  exec (text: string): Promise<void>
}

export interface SqlClient extends SqlQueryable {
  readonly kind: 'postgres' | 'pglite'
  /** runs fn inside BEGIN/COMMIT on one connection; rolls back when fn throws */
  transaction<T> (fn: (tx: SqlQueryable) => Promise<T>): Promise<T>
  /** LISTEN on a channel; the returned function stops listening */
  listen (channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>
  close (): Promise<void>
}

/**
 * Bounds a call that the database cannot bound itself (PGlite runs in this thread,
 * so statement_timeout never fires there). The call keeps running; the caller stops
 * waiting for it and sees BACKEND_TIMEOUT.
 */
export async function withDeadline<T> (what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Errors.backendTimeout(`${what} did not finish within ${timeoutMs} ms`, { details: { timeoutMs } })), timeoutMs)
  })
  try {
    return await Promise.race([call(), deadline])
  } finally {
    clearTimeout(timer)
  }
}
