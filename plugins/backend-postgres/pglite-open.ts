import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { applyWasmTiering, PGLITE_SERVER_SETTINGS } from './pglite-settings.ts'
import { discardTemplate, loadTemplate, saveTemplate, templatePath } from './pglite-template.ts'

// Opening PGlite: the same steps on the main thread and in the database thread
// (pglite-worker.ts). Nothing here loads @switchyard/core, so the thread starts
// with PGlite and these few files only.

export interface PgliteOpenOptions {
  /** a directory, or null for an in-memory database */
  dir: string | null
  /** session settings (set_config) applied once open */
  settings: Record<string, string>
  optimizeWasm: boolean
  /** the data-directory lock's file (datadir-lock.ts), already in a new directory when it is opened */
  lockFileName: string
}

/** a directory with nothing in it yet but our lock: a new database may be unpacked into it */
function newDataDir (dir: string, lockFileName: string): boolean {
  if (!existsSync(dir)) return true
  return readdirSync(dir).every(name => name === lockFileName)
}

/**
 * Starts PGlite; a new database starts from the saved cluster (pglite-template.ts), or,
 * when there is none, from a cluster initdb makes in memory and saves for the next new
 * one (in memory: a data directory's cluster would carry our lock file into the archive).
 */
async function startPglite (dir: string | null, startParams: string[], lockFileName: string): Promise<PGlite> {
  const isNew = dir === null || newDataDir(dir, lockFileName)
  let template = isNew ? loadTemplate() : undefined
  if (template === undefined && isNew && templatePath() !== null) {
    const fresh = new PGlite({ startParams })
    await fresh.waitReady
    template = await saveTemplate(fresh)
    if (dir === null) return fresh
    await fresh.close()
  }
  if (template !== undefined) {
    const db = dir === null ? new PGlite({ startParams, loadDataDir: template }) : new PGlite(dir, { startParams, loadDataDir: template })
    try {
      await db.waitReady
      return db
    } catch {
      // a damaged archive: drop it, clear what was unpacked, and run initdb instead
      discardTemplate()
      if (dir !== null) for (const name of readdirSync(dir)) if (name !== lockFileName) rmSync(join(dir, name), { recursive: true, force: true })
    }
  }
  const db = dir === null ? new PGlite({ startParams }) : new PGlite(dir, { startParams })
  await db.waitReady
  return db
}

/** Opens PGlite with Switchyard's server and session settings; closes it again when a setting fails. */
export async function openPglite (options: PgliteOpenOptions): Promise<PGlite> {
  applyWasmTiering(options.optimizeWasm)
  const startParams = [...PGlite.defaultStartParams, ...Object.entries(PGLITE_SERVER_SETTINGS).flatMap(([key, value]) => ['-c', `${key}=${value}`])]
  const db = await startPglite(options.dir, startParams, options.lockFileName)
  try {
    for (const [key, value] of Object.entries(options.settings)) {
      await db.query('SELECT set_config($1, $2, false)', [key, value])
    }
  } catch (err) {
    await db.close().catch(() => {})
    throw err
  }
  return db
}
