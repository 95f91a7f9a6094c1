import { Errors, isSwitchyardError } from '@switchyard/core'
import { LOCK_FILE_NAME, lockDataDir, type DataDirLock } from './datadir-lock.ts'
import { withDeadline, type SqlClient, type SqlParam, type SqlQueryable } from './sql-client.ts'
import { PgliteGate, type GateLane } from './pglite-gate.ts'
import { openMainThreadEngine, type PgliteEngine, type PgliteStatements } from './pglite-engine.ts'
import type { PgliteOpenOptions } from './pglite-open.ts'
import { openWorkerEngine } from './pglite-thread.ts'
import { startPgliteVacuum, type PgliteVacuum, type PgliteVacuumOptions } from './pglite-vacuum.ts'

export { applyWasmTiering, PGLITE_SERVER_SETTINGS } from './pglite-settings.ts'

// SqlClient over embedded PGlite. PGlite is one connection: concurrency here means
// queueing, and the queue is PgliteGate's (bounded, deadline-aware, reads and writes
// taking turns; see pglite-gate.ts). LISTEN and NOTIFY work in-process.
// statement_timeout cannot fire inside the wasm engine, so every call is bounded by
// a deadline instead, its wait for the connection included. PGlite runs on a thread
// of its own by default (pglite-thread.ts) or on the main thread (pglite-engine.ts);
// the gate, the deadlines and the data-directory lock stay here, on the main thread,
// either way.

export type PgliteThread = 'worker' | 'main'

/**
 * Where PGlite runs unless told: the main thread. On its own thread (`worker`) a
 * statement no longer stops the main thread's event loop, so TLS handshakes and HTTP
 * answers go on under a flood of database work (the under-load benchmark's handshake
 * p99 fell from 56.6 s to 0.71 s), but each call costs more CPU (about 300 µs, about
 * 110-170 µs since the thread stopped passing PGlite per-query parsers), a burst of
 * small calls ran slower and the process held twice the memory after the burst
 * (bench/README.md, "PGlite on its own thread" and "the thread's per-call CPU"); until
 * those are measured again the thread is a choice, not the default.
 */
export const PGLITE_DEFAULT_THREAD: PgliteThread = 'main'

/** calls waiting for the connection beyond this are refused (BACKEND_UNAVAILABLE) */
export const PGLITE_MAX_QUEUED = 2000
/** diagnostics: a file to append the connection queue's stats to, every second */
const STATS_FILE_ENV = 'SWITCHYARD_PGLITE_STATS_FILE'

/** statements that only read: they may go ahead of queued writes (and take turns with them) */
const WRITES = /\b(insert|update|delete|pg_notify|nextval|set_config|lock|create|alter|drop|truncate|vacuum|analyze|listen|unlisten|notify|call)\b/i

/** a short name for a statement in the stats: its first words, the schema left out */
export function statementKind (text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/"?[a-z_][a-z0-9_]*"?\./gi, '').slice(0, 60)
}

export function statementLane (text: string): GateLane {
  return WRITES.test(text) ? 'write' : 'read'
}

export interface PgliteClientOptions {
  /** undefined or memory:// for an in-memory database */
  dataDir: string | undefined
  statementTimeoutMs: number
  settings: Record<string, string>
  /** see applyWasmTiering; default false */
  optimizeWasm?: boolean
  /** waiting calls beyond this are refused; default PGLITE_MAX_QUEUED */
  maxQueued?: number
  /** where PGlite runs: the main thread (default) or a thread of its own; see PGLITE_DEFAULT_THREAD */
  thread?: PgliteThread
  /**
   * the database's own vacuuming (pglite-vacuum.ts; PGlite has no autovacuum): its
   * pacing, or false for none (a test that counts statements). Operators tune it as on
   * a server, through the autovacuum_* storage parameters of a table, so Switchyard's
   * options do not offer it.
   */
  vacuum?: PgliteVacuumOptions | false
}

function translateError (err: unknown): unknown {
  if (isSwitchyardError(err)) return err
  const message = (err as Error | null)?.message ?? String(err)
  if (/PGlite is closed/i.test(message)) return Errors.backendUnavailable(`pglite: ${message}`, { cause: err })
  return err
}

function persistentDir (dataDir: string | undefined): string | null {
  if (dataDir === undefined || dataDir === '' || dataDir.startsWith('memory://')) return null
  if (dataDir.startsWith('file://')) return dataDir.slice('file://'.length)
  if (/^[a-z]+:\/\//.test(dataDir)) return null
  return dataDir
}

/** statements inside a transaction: it holds the connection already */
function bindInTransaction (tx: PgliteStatements, timeoutMs: number): SqlQueryable {
  return {
    async query<R> (text: string, params?: readonly SqlParam[]): Promise<R[]> {
      try {
        return await withDeadline('pglite query', timeoutMs, async () => await tx.query<R>(text, params))
      } catch (err) {
        throw translateError(err)
      }
    },
    async exec (text: string): Promise<void> {
      try {
        await withDeadline('pglite exec', timeoutMs, async () => await tx.exec(text))
      } catch (err) {
        throw translateError(err)
      }
    }
  }
}

/** statements on their own: each waits for its turn at the gate, within its deadline */
function bindGated (db: PgliteStatements, gate: PgliteGate, timeoutMs: number, beforeCall: () => void): SqlQueryable {
  return {
    async query<R> (text: string, params?: readonly SqlParam[]): Promise<R[]> {
      beforeCall()
      try {
        return await gate.run(statementKind(text), statementLane(text), timeoutMs, async () => await db.query<R>(text, params))
      } catch (err) {
        throw translateError(err)
      }
    },
    async exec (text: string): Promise<void> {
      beforeCall()
      try {
        await gate.run('exec', 'write', timeoutMs, async () => await db.exec(text))
      } catch (err) {
        throw translateError(err)
      }
    }
  }
}


export async function createPgliteClient (options: PgliteClientOptions): Promise<SqlClient> {
  const dir = persistentDir(options.dataDir)
  const lock: DataDirLock | null = dir === null ? null : lockDataDir(dir)
  let db: PgliteEngine
  try {
    const open: PgliteOpenOptions = { dir, settings: options.settings, optimizeWasm: options.optimizeWasm ?? false, lockFileName: LOCK_FILE_NAME }
    db = (options.thread ?? PGLITE_DEFAULT_THREAD) === 'worker' ? await openWorkerEngine(open) : await openMainThreadEngine(open)
  } catch (err) {
    lock?.release()
    throw translateError(err)
  }
  const gate = new PgliteGate({ maxQueued: options.maxQueued ?? PGLITE_MAX_QUEUED, statsFile: process.env[STATS_FILE_ENV] })
  // every call may start an overdue vacuum check (see pglite-vacuum.ts: timers can starve under a flood)
  const nudgeVacuum = (): void => { vacuum?.nudge() }
  const bound = bindGated(db, gate, options.statementTimeoutMs, nudgeVacuum)
  let closed = false
  const vacuum: PgliteVacuum | null = options.vacuum === false
    ? null
    : startPgliteVacuum({
      query: bound.query,
      // each VACUUM a call of its own at the gate, named in its stats
      async exec (text: string): Promise<void> {
        try {
          await gate.run(statementKind(text), 'write', options.statementTimeoutMs, async () => await db.exec(text))
        } catch (err) {
          throw translateError(err)
        }
      }
    }, options.vacuum)

  return {
    kind: 'pglite',
    query: bound.query,
    exec: bound.exec,
    async transaction (fn) {
      nudgeVacuum()
      try {
        // the whole transaction holds PGlite's one connection, so bound it as a unit
        return await gate.run('transaction', 'write', options.statementTimeoutMs * 3, async () =>
          await db.transaction(async tx => await fn(bindInTransaction(tx, options.statementTimeoutMs))))
      } catch (err) {
        throw translateError(err)
      }
    },
    async listen (channel, onNotify) {
      let unlisten: () => Promise<void>
      try {
        unlisten = await db.listen(channel, onNotify)
      } catch (err) {
        throw translateError(err)
      }
      return async () => { if (!closed) await unlisten() }
    },
    async close () {
      if (closed) return
      closed = true
      // before the gate and PGlite close: a running VACUUM ends first, no later one starts
      await vacuum?.stop()
      gate.close()
      try {
        await db.close()
      } finally {
        lock?.release()
      }
    }
  }
}
