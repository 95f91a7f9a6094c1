import { parse, protocol, type PGlite, type Results } from '@electric-sql/pglite'

// Statements on PGlite as named prepared statements, each executed in one protocol
// call. PGlite's own query() sends an unnamed statement every time, as six protocol
// calls into the engine (parse, describe, bind, describe, execute, sync), each a pass
// through Postgres' main loop and PGlite's JavaScript, and Postgres parses, analyses
// and plans the text again on every call. Here a text is parsed and described once per
// connection; a call is then bind, execute and sync in one message, and Postgres keeps
// the plan (a generic one once it costs no more than the custom ones; Postgres' plan
// cache decides, as for any prepared statement, and replans when a table's statistics
// or definition change). Measured on the embedded database (bench/README.md, "PGlite
// enqueue→start"): `SELECT now()` 0.29 → 0.06 ms of CPU, a one-row insert 0.66 →
// 0.22 ms, back to back; the saving holds after an idle gap, when every call costs more
// (the machine's caches have lost PGlite's working set).
//
// Only statements outside a transaction come here (a transaction's statements go
// through PGlite's transaction object). Calls hold PGlite's query lock, as its own
// query() does, so a LISTEN sent meanwhile never interleaves its protocol messages
// with these.

type BackendMessage = Awaited<ReturnType<PGlite['execProtocolStream']>>[number]

/** prepared texts kept per connection; the least recently used is closed past this */
export const PREPARED_STATEMENTS_MAX = 256

interface Prepared {
  name: string
  /** parameter type oids, for PGlite's serializers */
  types: number[]
  /** the statement's row description, or none (a statement returning no rows) */
  rows: BackendMessage | undefined
}

/** a statement prepared earlier is gone or stale: prepare it again and retry once */
function stalePrepared (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  if (code === '26000') return true // invalid_sql_statement_name: no such prepared statement
  return code === '0A000' && /cached plan must not change result type/i.test(String((err as Error).message))
}

function concat (parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) { out.set(part, at); at += part.length }
  return out
}

export class PreparedQueries {
  private readonly statements = new Map<string, Prepared>()
  /** names evicted from the cache, closed with the next Parse */
  private closing: string[] = []
  private counter = 0

  constructor (private readonly db: PGlite, private readonly max = PREPARED_STATEMENTS_MAX) {}

  /** one statement, as PGlite's query() answers it (rows as objects, or as arrays with rowMode 'array') */
  async query<R> (text: string, params: readonly unknown[] | undefined, rowMode?: 'array'): Promise<Results<R>> {
    return await this.db.runExclusive(async () => {
      try {
        return await this.run<R>(text, params ?? [], rowMode)
      } catch (err) {
        if (!stalePrepared(err)) throw err
        this.forget(text)
        return await this.run<R>(text, params ?? [], rowMode)
      }
    })
  }

  private async run<R> (text: string, params: readonly unknown[], rowMode: 'array' | undefined): Promise<Results<R>> {
    const statement = await this.prepared(text)
    const serializers = this.db.serializers
    const values = params.map((value, at) => {
      if (value === null || value === undefined) return null
      const serialize = serializers[statement.types[at] as number]
      return serialize === undefined ? String(value) : serialize(value)
    })
    const { serialize } = protocol
    const messages = await this.db.execProtocolStream(concat([serialize.bind({ statement: statement.name, values }), serialize.execute({}), serialize.sync()]))
    const answer = statement.rows === undefined ? messages : [statement.rows, ...messages]
    return parse.parseResults(answer, this.db.parsers, rowMode === undefined ? undefined : { rowMode })[0] as Results<R>
  }

  private async prepared (text: string): Promise<Prepared> {
    const known = this.statements.get(text)
    if (known !== undefined) {
      // most recently used last: eviction takes the first
      this.statements.delete(text)
      this.statements.set(text, known)
      return known
    }
    const name = `sy_${++this.counter}`
    const { serialize } = protocol
    const closes = this.closing.map(old => serialize.close({ type: 'S', name: old }))
    this.closing = []
    const messages = await this.db.execProtocolStream(concat([...closes, serialize.parse({ name, text }), serialize.describe({ type: 'S', name }), serialize.sync()]), { syncToFs: false })
    const params = messages.find(m => m.name === 'parameterDescription') as { dataTypeIDs?: number[] } | undefined
    const statement: Prepared = { name, types: params?.dataTypeIDs ?? [], rows: messages.find(m => m.name === 'rowDescription') }
    this.statements.set(text, statement)
    if (this.statements.size > this.max) {
      const [oldest] = this.statements
      if (oldest !== undefined) this.forget(oldest[0])
    }
    return statement
  }

  private forget (text: string): void {
    const statement = this.statements.get(text)
    if (statement === undefined) return
    this.statements.delete(text)
    this.closing.push(statement.name)
  }
}
