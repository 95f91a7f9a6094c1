import type { SqlParam } from './sql-client.ts'
import type { PgliteOpenOptions } from './pglite-open.ts'

// What pglite-client.ts needs of PGlite, wherever it runs: on this thread
// (openMainThreadEngine, below) or on a thread of its own (pglite-thread.ts). The
// client adds the data-directory lock, the gate and the deadlines on top; an engine
// runs what it is given, in the order given.

export interface PgliteStatements {
  query<R> (text: string, params?: readonly SqlParam[]): Promise<R[]>
  exec (text: string): Promise<void>
}

export interface PgliteEngine extends PgliteStatements {
  /** fn's statements run inside BEGIN/COMMIT; a throw rolls back */
  transaction<T> (fn: (tx: PgliteStatements) => Promise<T>): Promise<T>
  listen (channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>
  close (): Promise<void>
}

/** PGlite on this thread: every statement runs synchronously in the caller's event loop. */
export async function openMainThreadEngine (options: PgliteOpenOptions): Promise<PgliteEngine> {
  // loaded here, not at the top: on the database thread (the default) this thread never loads PGlite
  const { openPglite } = await import('./pglite-open.ts')
  const { PreparedQueries } = await import('./pglite-prepared.ts')
  const db = await openPglite(options)
  // statements outside a transaction run as prepared statements (pglite-prepared.ts)
  const prepared = new PreparedQueries(db)
  return {
    async query<R> (text: string, params?: readonly SqlParam[]) {
      return (await prepared.query<R>(text, params)).rows
    },
    async exec (text: string) {
      await db.exec(text)
    },
    async transaction<T> (fn: (tx: PgliteStatements) => Promise<T>) {
      return await db.transaction(async tx => await fn({
        async query<R> (text: string, params?: readonly SqlParam[]) {
          return (await tx.query<R>(text, params as unknown[] | undefined)).rows
        },
        async exec (text: string) {
          await tx.exec(text)
        }
      }))
    },
    async listen (channel, onNotify) {
      return await db.listen(channel, onNotify)
    },
    async close () {
      await db.close()
    }
  }
}
