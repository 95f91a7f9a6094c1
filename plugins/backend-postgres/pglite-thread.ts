import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { Errors } from '@switchyard/core'
import type { PgliteEngine, PgliteStatements } from './pglite-engine.ts'
import type { PgliteOpenOptions } from './pglite-open.ts'
import { fromPlainError, type PgliteAnswer, type PgliteRequest, type PgliteThreadMessage } from './pglite-protocol.ts'
import type { SqlParam } from './sql-client.ts'

// PGlite on a thread of its own (pglite-worker.ts), behind the same PgliteEngine as
// on the main thread. Statements run there while this thread's event loop goes on;
// rows, parameters and errors cross as structured clones. A thread that dies fails
// every waiting call and every later one with BACKEND_UNAVAILABLE, never a hang.

/** opening a large data directory on a busy machine takes seconds; this bounds a thread that never answers */
const OPEN_TIMEOUT_MS = 300_000
/** how long close() waits for the thread to close PGlite and end before stopping it */
const CLOSE_TIMEOUT_MS = 30_000

type Request = PgliteRequest extends infer R ? R extends { id: number } ? Omit<R, 'id'> : never : never

interface Pending { resolve: (rows: unknown[] | undefined) => void, reject: (err: unknown) => void }

/**
 * The thread's entry, from the sources or from dist/ as this file was loaded. From
 * the sources (through tsx) the thread needs tsx too: a loader registered with
 * --import does not reach worker threads on Node 20, so a small bootstrap registers
 * it in the thread before importing the TypeScript entry.
 */
function workerEntry (): { code: string | URL, eval: boolean } {
  const here = fileURLToPath(import.meta.url)
  const entry = new URL(`./pglite-worker${extname(here)}`, import.meta.url)
  if (extname(here) !== '.ts') return { code: entry, eval: false }
  let tsx: string
  try {
    tsx = import.meta.resolve('tsx/esm/api')
  } catch {
    // no tsx: whatever runs this TypeScript (Node's own type stripping) runs the entry too
    return { code: entry, eval: false }
  }
  return { code: `import(${JSON.stringify(tsx)}).then(api => { api.register(); return import(${JSON.stringify(entry.href)}) })`, eval: true }
}

/** rows as PGlite gives them on the main thread: one object per row (json parsed), a later column of the same name winning */
function toObjects (columns: string[], json: number[], rows: unknown[][]): Array<Record<string, unknown>> {
  const objects = new Array<Record<string, unknown>>(rows.length)
  for (let r = 0; r < rows.length; r++) {
    const values = rows[r]!
    for (const at of json) {
      const text = values[at]
      if (typeof text === 'string') values[at] = JSON.parse(text)
    }
    const object: Record<string, unknown> = {}
    for (let c = 0; c < columns.length; c++) object[columns[c]!] = values[c]
    objects[r] = object
  }
  return objects
}

/**
 * Starts the thread and waits until it opened the database. `started` sees the
 * thread once spawned (tests end it for real, to check what callers then get).
 */
export async function openWorkerEngine (options: PgliteOpenOptions, started?: (worker: Worker) => void): Promise<PgliteEngine> {
  const entry = workerEntry()
  const worker = new Worker(entry.code, { eval: entry.eval, workerData: options, name: 'switchyard-pglite' })
  started?.(worker)
  const pending = new Map<number, Pending>()
  const listeners = new Map<number, (payload: string) => void>()
  let nextId = 1
  /** why calls fail from now on (the thread ended or failed), or null while it serves */
  let stopped: Error | null = null
  let closing = false
  let opened: { resolve: () => void, reject: (err: unknown) => void } | null = null
  const exited = new Promise<void>(resolve => worker.once('exit', () => resolve()))

  // The thread keeps the process alive only while a call waits for it, as PGlite on
  // the main thread did (an idle open database never held a process up).
  const refresh = (): void => { if (pending.size > 0 || opened !== null) worker.ref(); else worker.unref() }

  const stop = (err: Error): void => {
    if (stopped !== null) return
    stopped = err
    opened?.reject(err)
    opened = null
    const waiting = [...pending.values()]
    pending.clear()
    for (const call of waiting) call.reject(err)
    refresh()
  }

  worker.on('message', (message: PgliteThreadMessage) => {
    if ('notify' in message) {
      listeners.get(message.notify)?.(message.payload)
    } else if ('ready' in message) {
      if (message.ready) opened?.resolve()
      else opened?.reject(fromPlainError(message.error))
      opened = null
      refresh()
    } else {
      answer(message)
    }
  })
  worker.on('error', err => stop(Errors.backendUnavailable(`pglite: the embedded database thread failed: ${err.message}`, { cause: err })))
  worker.on('exit', code => stop(Errors.backendUnavailable(closing ? 'pglite: the embedded database is closed' : `pglite: the embedded database thread ended unexpectedly (exit code ${code}); the embedded database is closed`)))

  function answer (message: PgliteAnswer): void {
    const call = pending.get(message.id)
    if (call === undefined) return
    pending.delete(message.id)
    refresh()
    if (message.ok) call.resolve(message.rows === undefined || message.columns === undefined ? undefined : toObjects(message.columns, message.json ?? [], message.rows))
    else call.reject(fromPlainError(message.error))
  }

  async function call (request: Request): Promise<unknown[] | undefined> {
    if (stopped !== null) throw stopped
    const id = nextId++
    const answered = new Promise<unknown[] | undefined>((resolve, reject) => { pending.set(id, { resolve, reject }) })
    refresh()
    worker.postMessage({ ...request, id })
    return await answered
  }

  const statements = (tx: number | null): PgliteStatements => ({
    async query<R> (text: string, params?: readonly SqlParam[]) {
      return (await call({ op: 'query', text, params, tx })) as R[]
    },
    async exec (text: string) {
      await call({ op: 'exec', text, tx })
    }
  })

  let openTimer: NodeJS.Timeout | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      opened = { resolve, reject }
      refresh()
      openTimer = setTimeout(() => reject(Errors.backendUnavailable(`pglite: the embedded database thread did not open the database within ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS)
    })
  } catch (err) {
    await worker.terminate()
    throw err
  } finally {
    clearTimeout(openTimer)
  }

  return {
    ...statements(null),
    async transaction<T> (fn: (tx: PgliteStatements) => Promise<T>) {
      // the begin request's id names the transaction in its statements and its end
      const tx = nextId
      await call({ op: 'begin' })
      let result: T
      try {
        result = await fn(statements(tx))
      } catch (err) {
        await call({ op: 'end', tx, commit: false }).catch(() => {})
        throw err
      }
      await call({ op: 'end', tx, commit: true })
      return result
    },
    async listen (channel, onNotify) {
      const listen = nextId
      listeners.set(listen, onNotify)
      try {
        await call({ op: 'listen', channel })
      } catch (err) {
        listeners.delete(listen)
        throw err
      }
      return async () => {
        listeners.delete(listen)
        if (stopped === null) await call({ op: 'unlisten', listen })
      }
    },
    async close () {
      if (stopped === null && !closing) {
        closing = true
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<'late'>(resolve => { timer = setTimeout(() => resolve('late'), CLOSE_TIMEOUT_MS) })
        try {
          // a close PGlite refused still ends the thread: the data directory is let go either way
          const ended = call({ op: 'close' }).catch(async () => await worker.terminate()).then(async () => await exited)
          if (await Promise.race([ended, late]) === 'late') await worker.terminate()
        } finally {
          clearTimeout(timer)
        }
      }
      await exited
    }
  }
}
