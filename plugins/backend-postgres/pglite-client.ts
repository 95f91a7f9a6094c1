import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { PGlite } from '@electric-sql/pglite'
import { Errors, isSwitchyardError } from '@switchyard/core'
import { LOCK_FILE_NAME, lockDataDir, type DataDirLock } from './datadir-lock.ts'
import { discardTemplate, loadTemplate, saveTemplate } from './pglite-template.ts'
import { withDeadline, type SqlClient, type SqlParam, type SqlQueryable } from './sql-client.ts'
import { PgliteGate, type GateLane } from './pglite-gate.ts'

// SqlClient over embedded PGlite. PGlite is one connection: concurrency here means
// queueing, and the queue is PgliteGate's (bounded, deadline-aware, reads and writes
// taking turns; see pglite-gate.ts). LISTEN and NOTIFY work in-process.
// statement_timeout cannot fire inside the wasm engine, so every call is bounded by
// a deadline instead, its wait for the connection included.

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

/**
 * Server settings PGlite starts with, on top of its own start parameters. Postgres'
 * default shared_buffers (128MB) is sized for a server that owns the machine; inside
 * the process every buffer the engine touches stays resident in the wasm heap, which
 * made it the largest part of the embedded default's memory (about 150MB of wasm heap
 * resident with 128MB, 30MB with 16MB), and zeroing the pool was the largest part of
 * opening. Evicted pages are read back from the operating system's page cache (or
 * the in-memory file system), not the disk, so a small pool costs little: 16MB holds
 * the hot path's pages (the lease indexes, the pending tasks, the counters) many
 * times over.
 */
export const PGLITE_SERVER_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '16MB'
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
}

/**
 * How V8 compiles PGlite's WebAssembly (Postgres, about 9 MB of it). By default V8
 * starts every function on its baseline compiler (Liftoff) and recompiles the hot
 * ones with its optimizing compiler (TurboFan) on background threads. For PGlite that
 * recompilation competes with opening the database for the CPU (opening took about
 * twice as long on a busy two-core machine) and its code and compiler memory stay
 * resident (about 50 MB after ten minutes of the demo). Baseline code alone runs
 * queries slower: in the PGlite throughput benchmark (5,000 tasks) the first round
 * cost the same CPU per task (the recompilation is not free either), later rounds
 * about a quarter more than optimized code. The embedded default is for development
 * and small installations, where start-up and memory matter more, so baseline only
 * is the default; optimizeWasm asks for tiering up (a busy embedded worker).
 *
 * The setting is V8's (`--liftoff-only`) and so covers all WebAssembly the process
 * compiles from then on; each client applies its own choice when it opens.
 */
export function applyWasmTiering (optimize: boolean): void {
  setFlagsFromString(optimize ? '--no-liftoff-only' : '--liftoff-only')
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
function bindInTransaction (tx: Pick<PGlite, 'query' | 'exec'>, timeoutMs: number): SqlQueryable {
  return {
    async query<R> (text: string, params?: readonly SqlParam[]): Promise<R[]> {
      try {
        const result = await withDeadline('pglite query', timeoutMs, async () => await tx.query<R>(text, params as unknown[] | undefined))
        return result.rows
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
function bindGated (db: Pick<PGlite, 'query' | 'exec'>, gate: PgliteGate, timeoutMs: number): SqlQueryable {
  return {
    async query<R> (text: string, params?: readonly SqlParam[]): Promise<R[]> {
      try {
        const result = await gate.run(statementKind(text), statementLane(text), timeoutMs, async () => await db.query<R>(text, params as unknown[] | undefined))
        return result.rows
      } catch (err) {
        throw translateError(err)
      }
    },
    async exec (text: string): Promise<void> {
      try {
        await gate.run('exec', 'write', timeoutMs, async () => await db.exec(text))
      } catch (err) {
        throw translateError(err)
      }
    }
  }
}

/** a directory with nothing in it yet but our lock: a new database may be unpacked into it */
function newDataDir (dir: string): boolean {
  if (!existsSync(dir)) return true
  return readdirSync(dir).every(name => name === LOCK_FILE_NAME)
}

/**
 * Opens PGlite; a new database starts from the saved cluster (pglite-template.ts), or,
 * when there is none, runs initdb and saves its cluster for the next new one.
 */
async function openPglite (dir: string | null, startParams: string[]): Promise<PGlite> {
  const isNew = dir === null || newDataDir(dir)
  const template = isNew ? loadTemplate() : undefined
  if (template !== undefined) {
    const db = dir === null ? new PGlite({ startParams, loadDataDir: template }) : new PGlite(dir, { startParams, loadDataDir: template })
    try {
      await db.waitReady
      return db
    } catch {
      // a damaged archive: drop it, clear what was unpacked, and run initdb instead
      discardTemplate()
      if (dir !== null) for (const name of readdirSync(dir)) if (name !== LOCK_FILE_NAME) rmSync(join(dir, name), { recursive: true, force: true })
    }
  }
  const db = dir === null ? new PGlite({ startParams }) : new PGlite(dir, { startParams })
  await db.waitReady
  if (isNew) await saveTemplate(db)
  return db
}

export async function createPgliteClient (options: PgliteClientOptions): Promise<SqlClient> {
  const dir = persistentDir(options.dataDir)
  const lock: DataDirLock | null = dir === null ? null : lockDataDir(dir)
  let db: PGlite
  try {
    applyWasmTiering(options.optimizeWasm ?? false)
    const startParams = [...PGlite.defaultStartParams, ...Object.entries(PGLITE_SERVER_SETTINGS).flatMap(([key, value]) => ['-c', `${key}=${value}`])]
    db = await openPglite(dir, startParams)
    for (const [key, value] of Object.entries(options.settings)) {
      await db.query('SELECT set_config($1, $2, false)', [key, value])
    }
  } catch (err) {
    lock?.release()
    throw translateError(err)
  }
  const gate = new PgliteGate({ maxQueued: options.maxQueued ?? PGLITE_MAX_QUEUED, statsFile: process.env[STATS_FILE_ENV] })
  const bound = bindGated(db, gate, options.statementTimeoutMs)
  let closed = false

  return {
    kind: 'pglite',
    query: bound.query,
    exec: bound.exec,
    async transaction (fn) {
      try {
        // the whole transaction holds PGlite's one connection, so bound it as a unit
        return await gate.run('transaction', 'write', options.statementTimeoutMs * 3, async () =>
          await db.transaction(async tx => await fn(bindInTransaction(tx, options.statementTimeoutMs))))
      } catch (err) {
        throw translateError(err)
      }
    },
    async listen (channel, onNotify) {
      const unlisten = await db.listen(channel, onNotify)
      return async () => { if (!closed) await unlisten() }
    },
    async close () {
      if (closed) return
      closed = true
      gate.close()
      try {
        await db.close()
      } finally {
        lock?.release()
      }
    }
  }
}
