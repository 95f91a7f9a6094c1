import { parentPort, workerData } from 'node:worker_threads'
import { types, type PGlite, type Transaction } from '@electric-sql/pglite'
import { openPglite, type PgliteOpenOptions } from './pglite-open.ts'
import { PreparedQueries } from './pglite-prepared.ts'
import { toPlainError, type PgliteRequest, type PgliteThreadMessage } from './pglite-protocol.ts'

// The database thread: PGlite opened here runs its statements on this thread, so the
// main thread's event loop (TLS, HTTP, SSE, timers, handlers) keeps running while
// Postgres works. It runs what it is sent as it arrives; the order (one call at a
// time, a transaction holding the connection for its statements) is kept by the
// client's gate on the main thread (pglite-client.ts), and PGlite's own mutexes
// make a LISTEN wait for a transaction as they do on the main thread.

const port = parentPort
if (port === null) throw new Error('pglite-worker.ts runs as a worker thread (see pglite-thread.ts)')

/** thrown into PGlite's transaction callback to make it roll back */
class Rollback extends Error {}

interface OpenTransaction { tx: Transaction, finish: (commit: boolean) => void, done: Promise<void> }

const transactions = new Map<number, OpenTransaction>()
const unlisteners = new Map<number, () => Promise<void>>()

function send (message: PgliteThreadMessage): void {
  port!.postMessage(message)
}

function target (db: PGlite, tx: number | null): Pick<PGlite, 'query' | 'exec'> {
  if (tx === null) return db
  const open = transactions.get(tx)
  if (open === undefined) throw new Error(`pglite thread: no open transaction ${tx}`)
  return open.tx
}

/** opens a transaction and answers once BEGIN ran; the transaction stays open until its end request */
async function begin (db: PGlite, id: number): Promise<void> {
  let begun!: () => void
  const started = new Promise<void>(resolve => { begun = resolve })
  const done = db.transaction(async tx => await new Promise<void>((resolve, reject) => {
    transactions.set(id, { tx, finish: commit => { if (commit) resolve(); else reject(new Rollback()) }, done })
    begun()
  }))
  // BEGIN itself failed: the transaction never opened, the begin request gets the error
  await Promise.race([started, done])
}

async function end (id: number, commit: boolean): Promise<void> {
  const open = transactions.get(id)
  if (open === undefined) throw new Error(`pglite thread: no open transaction ${id}`)
  transactions.delete(id)
  open.finish(commit)
  try {
    await open.done
  } catch (err) {
    if (!(err instanceof Rollback)) throw err
  }
}

interface Rows { columns: string[], json: number[], rows: unknown[][] }

const JSON_TYPES = new Set<number>([types.JSON, types.JSONB])

/**
 * json and jsonb stay text here: the client parses them (see PgliteAnswer). Set once
 * on the database's own parsers, not per query: PGlite copies its whole parser table
 * (over 300 types) into a new object for every query given `parsers`, about 80 µs a
 * call, which was most of what a call across the thread cost more than one on the
 * main thread. Arrays of json keep parsing their elements, as on the main thread.
 */
function keepJsonAsText (db: PGlite): void {
  const parseJson = db.parsers[types.JSON]!
  const parseJsonb = db.parsers[types.JSONB]!
  const text = (value: string): string => value
  db.parsers[types.JSON] = text
  db.parsers[types.JSONB] = text
  db.parsers[JSON_ARRAY] = value => types.arrayParser(value, parseJson, JSON_ARRAY)
  db.parsers[JSONB_ARRAY] = value => types.arrayParser(value, parseJsonb, JSONB_ARRAY)
}
/** pg_type oids of json[] and jsonb[] */
const JSON_ARRAY = 199
const JSONB_ARRAY = 3807

async function handle (db: PGlite, prepared: PreparedQueries, request: PgliteRequest): Promise<Rows | undefined> {
  switch (request.op) {
    case 'query': {
      // outside a transaction as a prepared statement (pglite-prepared.ts)
      const result = request.tx === null
        ? await prepared.query<unknown[]>(request.text, request.params, 'array')
        : await target(db, request.tx).query<unknown[]>(request.text, request.params as unknown[] | undefined, { rowMode: 'array' })
      const json: number[] = []
      result.fields.forEach((field, at) => { if (JSON_TYPES.has(field.dataTypeID)) json.push(at) })
      return { columns: result.fields.map(field => field.name), json, rows: result.rows }
    }
    case 'exec':
      await target(db, request.tx).exec(request.text)
      return undefined
    case 'begin':
      await begin(db, request.id)
      return undefined
    case 'end':
      await end(request.tx, request.commit)
      return undefined
    case 'listen': {
      const listen = request.id
      unlisteners.set(listen, await db.listen(request.channel, payload => send({ notify: listen, payload })))
      return undefined
    }
    case 'unlisten': {
      const unlisten = unlisteners.get(request.listen)
      unlisteners.delete(request.listen)
      if (unlisten !== undefined) await unlisten()
      return undefined
    }
    case 'close':
      await db.close()
      // nothing is left to answer: let the thread end once the answer is sent
      setImmediate(() => port!.close())
      return undefined
  }
}

try {
  const db = await openPglite(workerData as PgliteOpenOptions)
  keepJsonAsText(db)
  const prepared = new PreparedQueries(db)
  port.on('message', (request: PgliteRequest) => {
    handle(db, prepared, request).then(
      rows => send(rows === undefined ? { id: request.id, ok: true } : { id: request.id, ok: true, columns: rows.columns, json: rows.json, rows: rows.rows }),
      (err: unknown) => send({ id: request.id, ok: false, error: toPlainError(err) })
    )
  })
  send({ ready: true })
} catch (err) {
  send({ ready: false, error: toPlainError(err) })
  port.close()
}
