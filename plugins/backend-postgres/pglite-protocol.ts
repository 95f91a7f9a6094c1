import type { SqlParam } from './sql-client.ts'

// The messages between the client (main thread) and the database thread
// (pglite-worker.ts). Every request carries an id the one answer repeats; a
// notification names the listen request it belongs to. Everything crosses by
// structured clone: rows, parameters, and errors as plain data (an Error's own
// properties are not all cloned, and Postgres' SQLSTATE `code`, `constraint` and
// the rest are what the backend maps to Switchyard errors).

export type PgliteRequest =
  | { id: number, op: 'query', text: string, params: readonly SqlParam[] | undefined, tx: number | null }
  | { id: number, op: 'exec', text: string, tx: number | null }
  /** opens a transaction; its id names it in the statements and the end that follow */
  | { id: number, op: 'begin' }
  | { id: number, op: 'end', tx: number, commit: boolean }
  | { id: number, op: 'listen', channel: string }
  | { id: number, op: 'unlisten', listen: number }
  | { id: number, op: 'close' }

export type PgliteAnswer =
  /**
   * rows as arrays of values with the column names once (cheaper to clone than one
   * object per row); the columns listed in `json` hold json/jsonb text, parsed on
   * arrival (a string crosses as one copy, a parsed document object by object)
   */
  | { id: number, ok: true, columns?: string[], json?: number[], rows?: unknown[][] }
  | { id: number, ok: false, error: PlainError }

export type PgliteThreadMessage =
  | PgliteAnswer
  /** the database opened (ok) or could not (error); sent once, before any answer */
  | { ready: true } | { ready: false, error: PlainError }
  | { notify: number, payload: string }

/** an error as data: its message, name, stack and own primitive fields (code, detail, constraint, ...) */
export interface PlainError {
  message: string
  name: string
  stack?: string
  fields: Record<string, string | number | boolean | null>
}

export function toPlainError (err: unknown): PlainError {
  if (!(err instanceof Error)) return { message: String(err), name: 'Error', fields: {} }
  const fields: PlainError['fields'] = {}
  for (const [key, value] of Object.entries(err)) {
    if (key === 'message' || key === 'name' || key === 'stack') continue
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value
  }
  return { message: err.message, name: err.name, ...(err.stack !== undefined ? { stack: err.stack } : {}), fields }
}

/** an Error again, with the fields it had (so `code` and `constraint` read as before) */
export function fromPlainError (plain: PlainError): Error {
  const err = new Error(plain.message)
  err.name = plain.name
  if (plain.stack !== undefined) err.stack = plain.stack
  return Object.assign(err, plain.fields)
}
